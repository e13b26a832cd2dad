// The OpenAPI 3.1 document, generated from the route registry: the schemas that validate requests
// are the schemas it publishes (JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from './errors.ts';
import { API_PREFIX } from './router.ts';
import { type Route, pathParams, routeErrors } from './registry.ts';

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

/** camelCase operation id from method and path: GET /domains/{id}/dkim → getDomainsIdDkim. */
const operationId = (route: Route): string =>
  route.method.toLowerCase() +
  route.path
    .split(/[/{}_-]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');

function parameters(route: Route): Json[] {
  const out: Json[] = pathParams(route.path).map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (route.query) {
    const schema = jsonSchema(route.query, 'input') as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const { description, ...rest } = property as Json & { description?: string };
      out.push({
        name,
        in: 'query',
        required: schema.required?.includes(name) ?? false,
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  }
  return out;
}

function success(route: Route): Json {
  if (route.raw)
    return {
      description: 'OK',
      content: { [route.raw]: { schema: route.raw === 'application/json' ? { type: 'object' } : { type: 'string' } } },
    };
  const data = route.response ? jsonSchema(route.list ? z.array(route.response) : route.response, 'output') : {};
  const properties: Json = { ok: { const: true }, data, meta: { $ref: '#/components/schemas/Meta' } };
  if (route.list) properties.pagination = { $ref: '#/components/schemas/Pagination' };
  const headers: Json = {};
  if (route.etag) headers.ETag = { $ref: '#/components/headers/ETag' };
  if (route.status === 201)
    headers.Location = { description: 'URL of the created resource', schema: { type: 'string' } };
  return {
    description: route.status === 201 ? 'Created' : 'OK',
    ...(Object.keys(headers).length ? { headers } : {}),
    content: {
      'application/json': {
        schema: { type: 'object', properties, required: ['ok', 'data', 'meta', ...(route.list ? ['pagination'] : [])] },
      },
    },
  };
}

function errorResponses(route: Route): Json {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeErrors(route))
    byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  const out: Json = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: codes.join(', '),
      ...(status === 429 ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } } : {}),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } },
    };
  }
  return out;
}

export function buildOpenApi(routes: Route[], info: { title: string; version: string }): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const operation: Json = {
      operationId: operationId(route),
      summary: route.summary,
      tags: [route.tag],
      security: route.public ? [] : [{ bearer: [] }],
      ...(route.permission ? { 'x-permission': route.permission } : {}),
      parameters: [
        ...parameters(route),
        ...(route.idempotent ? [{ $ref: '#/components/parameters/IdempotencyKey' }] : []),
        ...(route.etag ? [{ $ref: '#/components/parameters/IfNoneMatch' }] : []),
        ...(route.ifMatch ? [{ $ref: '#/components/parameters/IfMatch' }] : []),
      ],
      ...(route.body
        ? {
            requestBody: {
              required: !route.body.safeParse(undefined).success,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses: {
        [String(route.status ?? 200)]: success(route),
        ...(route.etag ? { '304': { description: 'Not Modified (If-None-Match matched)' } } : {}),
        ...errorResponses(route),
      },
    };
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      ...info,
      description:
        'Wren Mail management API. Every response carries X-Request-Id and X-RateLimit-Limit/Remaining/Reset.',
    },
    servers: [{ url: API_PREFIX }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API key: wm_root_…, wm_send_… or wm_mbx_…' },
      },
      parameters: {
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          schema: { type: 'string', minLength: 1, maxLength: 255 },
        },
        IfNoneMatch: { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } },
        IfMatch: { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } },
      },
      headers: {
        ETag: { description: 'Weak entity tag of the representation', schema: { type: 'string' } },
        RetryAfter: { description: 'Seconds to wait', schema: { type: 'integer' } },
      },
      schemas: {
        Meta: { type: 'object', properties: { request_id: { type: 'string' } }, required: ['request_id'] },
        Pagination: {
          type: 'object',
          properties: { has_more: { type: 'boolean' }, next_cursor: { type: 'string' } },
          required: ['has_more'],
        },
        ErrorEnvelope: {
          type: 'object',
          required: ['ok', 'error', 'meta'],
          properties: {
            ok: { const: false },
            meta: { $ref: '#/components/schemas/Meta' },
            error: {
              type: 'object',
              required: ['code', 'message', 'param', 'doc_url', 'retryable'],
              properties: {
                code: { type: 'string', enum: Object.keys(ERROR_STATUS) },
                message: { type: 'string' },
                param: { type: ['string', 'null'] },
                doc_url: { type: 'string', format: 'uri' },
                retryable: { type: 'boolean' },
                errors: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['field', 'code', 'message'],
                    properties: { field: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
