import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.ts';

export class ConfigError extends Error {}

const ENV_PREFIX = 'WRENMAIL_';

/**
 * Settings from the TOML file (if any), then WRENMAIL_<SECTION>_<KEY> environment overrides,
 * validated by the schema. Any problem names the setting and the value and stops the start.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  let fromFile: Record<string, unknown> = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
    }
    try {
      fromFile = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`config file ${path} is not valid TOML: ${(err as Error).message}`);
    }
  }
  const merged = applyEnvironment(fromFile, env);
  const result = configSchema.safeParse(merged);
  if (!result.success) throw new ConfigError(describeIssues(result.error, merged, path));
  return result.data;
}

/** Finds the section/key an environment name means by matching against the schema's own names. */
function applyEnvironment(base: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const config = structuredClone(base);
  const shape = configSchema.shape as Record<string, z.ZodType>;
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || name === 'WRENMAIL_CONFIG') continue;
    const rest = name.slice(ENV_PREFIX.length).toLowerCase();
    if (rest in shape && !isSection(shape[rest]!)) {
      config[rest] = coerce(raw, shape[rest]!);
      continue;
    }
    const section = Object.keys(shape).find((s) => isSection(shape[s]!) && rest.startsWith(`${s}_`));
    if (!section) throw new ConfigError(`environment variable ${name} names no setting`);
    const key = rest.slice(section.length + 1);
    const fields = sectionShape(shape[section]!);
    if (!(key in fields))
      throw new ConfigError(`environment variable ${name} names no setting: [${section}] has no key "${key}"`);
    const target = (config[section] ??= {}) as Record<string, unknown>;
    target[key] = coerce(raw, fields[key]!);
  }
  return config;
}

function unwrap(type: z.ZodType): z.ZodType {
  let current = type as z.ZodType & { def: { innerType?: z.ZodType; type: string } };
  while (current.def.innerType) current = current.def.innerType as typeof current;
  return current;
}

const isSection = (type: z.ZodType): boolean => unwrap(type) instanceof z.ZodObject;
const sectionShape = (type: z.ZodType): Record<string, z.ZodType> =>
  (unwrap(type) as z.ZodObject).shape as Record<string, z.ZodType>;

/** Environment values are strings: turn them into the type the schema expects, leaving bad ones for it to name. */
function coerce(raw: string, type: z.ZodType): unknown {
  const inner = unwrap(type);
  if (inner instanceof z.ZodArray) {
    if (raw.trim().startsWith('[')) {
      try {
        return JSON.parse(raw);
      } catch {
        return raw;
      }
    }
    return raw.trim() === '' ? [] : raw.split(',').map((s) => s.trim());
  }
  if (inner instanceof z.ZodNumber) return raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  if (inner instanceof z.ZodBoolean)
    return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
  return raw;
}

function describeIssues(error: z.ZodError, input: Record<string, unknown>, path: string | undefined): string {
  const lines = error.issues.map((issue) => {
    const setting = issue.path.join('.');
    const value = issue.path.reduce<unknown>(
      (node, key) => (node as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey],
      input,
    );
    const shown = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : JSON.stringify(value);
    const where =
      issue.code === 'unrecognized_keys'
        ? `unknown setting${issue.keys.length > 1 ? 's' : ''} ${shown}${setting ? ` in [${setting}]` : ''}`
        : `${setting || '(root)'} = ${shown}: ${issue.message}`;
    return `  - ${where}`;
  });
  return `invalid configuration${path ? ` in ${path}` : ''}:\n${lines.join('\n')}`;
}
