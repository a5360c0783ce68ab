import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/platform/db.ts';
import { createClient, type ClientKind } from '../../src/auth/client-credentials.ts';

/** The OpenADR 3.0.1 VTN's base path. */
export const OPENADR_BASE = '/openadr/3.0.1';

/** Asks the VTN's token endpoint for a client-credentials token (optionally narrowed to `scope`, space-separated); the raw response. */
export async function openadrToken(app: FastifyInstance, clientId: string, clientSecret: string, scope?: string) {
  return app.inject({
    method: 'POST', url: `${OPENADR_BASE}/auth/token`, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, ...(scope ? { scope } : {}) }).toString(),
  });
}

/**
 * Registers a client of `kind` (with `scopes`, or its kind's default) and gets a token for it (narrowed to `scope`
 * when given): its `Authorization` headers, client id and secret.
 */
export async function openadrBearer(app: FastifyInstance, db: Db, kind: ClientKind, o: { scopes?: string[]; scope?: string } = {}) {
  const { client, clientSecret } = await createClient(db, { name: `${kind} test`, kind, ...(o.scopes ? { scopes: o.scopes } : {}) });
  const res = await openadrToken(app, client.clientId, clientSecret, o.scope);
  assert.equal(res.statusCode, 200, res.body);
  return { headers: { authorization: `Bearer ${res.json<{ access_token: string }>().access_token}` }, clientId: client.clientId, clientSecret };
}
