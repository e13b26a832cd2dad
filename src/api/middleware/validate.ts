import type { z } from 'zod';
import { ApiError, type FieldError } from '../errors.ts';

/**
 * Parses input with a zod schema. Every issue is listed in `errors[]`; `param` is the first one's
 * field. A required field that is absent is `missing_parameter`, anything else `invalid_parameter`.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: 'body' | 'query'): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.flatMap((issue): FieldError[] => {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: base ? `${base}.${key}` : key,
        code: 'unknown_field',
        message: `unknown field ${JSON.stringify(key)}`,
      }));
    }
    const missing = issue.code === 'invalid_type' && issue.input === undefined;
    return [{ field: base || where, code: missing ? 'missing' : issue.code, message: issue.message }];
  });
  const first = errors[0]!;
  const code = first.code === 'missing' ? 'missing_parameter' : 'invalid_parameter';
  const message =
    where === 'body' && first.field === 'body'
      ? `the request body is invalid: ${first.message}`
      : `${first.field}: ${first.message}`;
  throw new ApiError(code, message, first.field, { errors });
}
