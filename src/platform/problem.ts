import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { databaseUnavailable } from './db.ts';

/** One error type with an HTTP status; turned into application/problem+json in one handler. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly field: string | undefined;
  constructor(status: number, detail: string, field?: string) {
    super(detail);
    this.status = status;
    this.field = field;
  }
}

/** The application/problem+json body (RFC 9457) of a status, with the field at fault when there is one. */
export function problemBody(status: number, detail: string, field?: string) {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, ...(field ? { field } : {}) };
}

/** The problem+json body as a schema (OpenAPI error responses). */
export const problemJson = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), field: z.string().optional() })
  .describe('application/problem+json (RFC 9457); `field` names the part of the request at fault');

/** `retryAfterSeconds`: sent as the Retry-After header (a 503 while the database is unreachable). */
export interface Problem { status: number; detail: string; field?: string | undefined; retryAfterSeconds?: number | undefined }

/** Seconds a client is told to wait (Retry-After) when the database cannot be reached: a restart or failover takes a few. */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

/**
 * What a client sent wrong in each of Fastify's own 4xx errors: the part of the request at fault. Errors
 * raised before a route's schema sees the input (media type, JSON syntax, size, URL encoding) would
 * otherwise reach the client without a field.
 */
const FRAMEWORK_FIELDS: Readonly<Record<string, { field: string; detail?: string }>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { field: 'content-type', detail: 'this route does not accept that content type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { field: 'content-length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { field: 'body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { field: 'body' },
  FST_ERR_CTP_BODY_TOO_LARGE: { field: 'body' },
  FST_ERR_BAD_URL: { field: 'url', detail: 'the URL is not valid percent-encoding' },
  FST_ERR_MAX_PARAM_LENGTH: { field: 'url', detail: 'a path segment is too long' },
};

/** What problemOf reads of a zod issue. */
interface ZodIssueLike { code?: string; path?: readonly PropertyKey[]; message: string; keys?: readonly string[]; errors?: ReadonlyArray<readonly ZodIssueLike[]> }

/**
 * The issue a client is told about, with its full path: an unknown key is named by its own path (`intervals/0/colour`,
 * not the object holding it); a union (one message or a batch of them) that no member matched is named by the issue
 * of the member that matched the input furthest (the deepest path: `1/version` of a batch whose second message is
 * wrong, never "Invalid input" of the whole body).
 */
function specificIssue(issue: ZodIssueLike): { path: readonly PropertyKey[]; message: string } {
  const path = issue.path ?? [];
  if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
    const [key, ...more] = issue.keys;
    return { path: [...path, key!], message: `unknown field${more.length ? ` (also ${more.join(', ')})` : ''}: this object takes only the documented fields` };
  }
  if (issue.code === 'invalid_union' && issue.errors?.length) {
    const candidates = issue.errors.filter((branch) => branch.length > 0).map((branch) => {
      const inner = specificIssue(branch[0]!);
      // a member refusing the input's very type (an object where it takes an array) is the one the client did not mean
      const wrongType = branch[0]!.code === 'invalid_type' && inner.path.length === 0;
      return { path: [...path, ...inner.path], message: inner.message, wrongType };
    });
    const deepest = candidates.sort((a, b) => b.path.length - a.path.length || Number(a.wrongType) - Number(b.wrongType))[0];
    // deeper than the union, or at its level from the one member of the input's type (a batch over its size limit)
    if (deepest && (deepest.path.length > path.length || (!deepest.wrongType && candidates.some((c) => c.wrongType)))) return { path: deepest.path, message: deepest.message };
  }
  return { path, message: issue.message };
}

/**
 * The one mapping from anything thrown while serving a request to its problem: schema (zod) failures name
 * the field by its path, slash-separated like a JSON pointer (`from`, `0/location`, `intervals/3/powerKw`; an
 * unknown key by its own path; a union by its member at fault: specificIssue; `body` when the body as a whole has
 * the wrong shape), HttpProblem keeps its own, Fastify's framework errors get the request part at fault, an error that
 * says the database cannot be reached (db.ts databaseUnavailable: refused, reset, timed out, shut down) is 503 with
 * Retry-After UNAVAILABLE_RETRY_AFTER_S — on any route, read or write — and everything else with a 5xx or no status
 * is an internal error whose message is never shown.
 */
export function problemOf(err: unknown): Problem {
  if (hasZodFastifySchemaValidationErrors(err)) {
    // fastify-type-provider-zod keeps the zod issue's path as instancePath and the rest of it (keys, errors) as params
    const v = err.validation[0]!;
    const rest = (v.params ?? {}) as Pick<ZodIssueLike, 'keys' | 'errors'>;
    const named = specificIssue({ code: v.keyword, path: String(v.instancePath || '').split('/').filter(Boolean), message: v.message ?? 'invalid', keys: rest.keys, errors: rest.errors });
    const field = named.path.map(String).join('/') || (err.validationContext ?? 'body');
    return { status: 400, detail: `${field}: ${named.message}`, field };
  }
  if (err instanceof HttpProblem) return { status: err.status, detail: err.message, field: err.field };
  if (databaseUnavailable(err)) return { status: 503, detail: 'the database cannot be reached at the moment; retry after the time in Retry-After', retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S };
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
  if (status >= 500) return { status, detail: 'internal error' };
  const known = typeof e.code === 'string' ? FRAMEWORK_FIELDS[e.code] : undefined;
  const message = typeof e.message === 'string' ? e.message : STATUS_CODES[status] ?? 'error';
  return { status, detail: known ? `${known.field}: ${known.detail ?? message}` : message, field: known?.field };
}

/**
 * Sends a problem as application/problem+json (with Retry-After when the problem has one). Serialised with JSON.stringify, not the route's response schema:
 * a route that declares another shape for a status (OpenADR's OAuth errors) must never turn a client's
 * malformed request into a 500 FST_ERR_RESPONSE_SERIALIZATION (issue 12 finding 4).
 */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  if (p.retryAfterSeconds !== undefined) reply.header('retry-after', String(p.retryAfterSeconds));
  return reply.code(p.status).type('application/problem+json; charset=utf-8').serializer((x: unknown) => JSON.stringify(x))
    .send(problemBody(p.status, p.detail, p.field));
}
