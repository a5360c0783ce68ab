import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../platform/db.ts';
import { problemBody } from '../platform/problem.ts';
import { verifyApiKey, type ApiKey, type Role } from './api-keys.ts';

declare module 'fastify' {
  interface FastifyRequest { apiKey?: ApiKey }
}

function refuse(reply: FastifyReply, status: 401 | 403, detail: string, error?: 'invalid_token' | 'insufficient_scope') {
  // RFC 6750: a 401 names the scheme; error= only when a token was presented.
  if (status === 401) reply.header('WWW-Authenticate', `Bearer realm="gridpulse"${error ? `, error="${error}"` : ''}`);
  return reply.code(status).type('application/problem+json').send(problemBody(status, detail, 'authorization'));
}

/**
 * An onRequest hook: `Authorization: Bearer gp_…` with an active key of one of `roles`.
 * Missing, malformed, unknown or revoked keys get 401 problem+json with WWW-Authenticate.
 */
export function requireApiKey(db: Db, roles: readonly Role[]) {
  return async function bearerAuth(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const header = req.headers.authorization;
    if (!header) return refuse(reply, 401, 'an API key is required: Authorization: Bearer <key> (create one with `gridpulse keys create --role worker`)');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return refuse(reply, 401, 'Authorization must be "Bearer <key>"', 'invalid_token');
    const key = await verifyApiKey(db, m[1]!);
    if (!key) return refuse(reply, 401, 'unknown or revoked API key', 'invalid_token');
    if (!roles.includes(key.role)) return refuse(reply, 403, `role '${key.role}' may not use this endpoint`, 'insufficient_scope');
    req.apiKey = key;
    req.log = req.log.child({ apiKey: key.id });
  };
}
