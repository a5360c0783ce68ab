import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { ACCESS_TOKEN_SECONDS, ACCESS_TOKEN_TYP, TokenRefused, verifySignedJwt } from './access-token.ts';
import { sha256, type AuthDeps } from './sessions.ts';
import type { Principal } from './principal.ts';

/**
 * OAuth2 client credentials (RFC 6749 §4.4) for OpenADR 3 clients: VENs and business-logic (utility) systems,
 * registered by an administrator (`gridpulse openadr clients create`). A client trades its id and secret at the
 * VTN's `/auth/token` for a one-hour JWT access token (RFC 9068: typ at+jwt, claims client_id and scope), signed
 * with the same key ring as user access tokens; the access hook turns it into a principal holding the token's
 * scopes, and every OpenADR route requires the scope the OpenADR 3.0.1 definition names.
 */
export const OPENADR_SCOPES = {
  read_all: 'VENs and BL can read all resources',
  write_programs: 'Only BL can write to programs',
  write_events: 'Only BL can write to events',
  write_reports: 'only VENs can write to reports',
  write_subscriptions: 'VENs and BL can write to subscriptions',
  write_vens: 'VENS and BL can write to vens and resources',
} as const;
export type OpenadrScope = keyof typeof OPENADR_SCOPES;
export const isOpenadrScope = (s: string): s is OpenadrScope => Object.hasOwn(OPENADR_SCOPES, s);

export const CLIENT_KINDS = ['ven', 'bl'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

/** The scopes each kind of client may hold (the definition's scope descriptions), and gets by default. */
export const CLIENT_KIND_SCOPES: Readonly<Record<ClientKind, readonly OpenadrScope[]>> = {
  ven: ['read_all', 'write_reports', 'write_subscriptions', 'write_vens'],
  bl: ['read_all', 'write_programs', 'write_events', 'write_subscriptions', 'write_vens'],
};

export interface OpenadrClient { clientId: string; name: string; kind: ClientKind; scopes: string[]; createdAt: string; revokedAt: string | null }
type Row = { client_id: string; name: string; kind: ClientKind; scopes: string[]; created_at: Date | string; revoked_at: Date | string | null; secret_hash?: string };
const toClient = (r: Row): OpenadrClient => ({
  clientId: r.client_id, name: r.name, kind: r.kind, scopes: [...r.scopes], createdAt: new Date(r.created_at).toISOString(),
  revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString(),
});

/** Registers a client; returns its secret once (only its SHA-256 is stored). 400 naming `scopes` for a scope its kind may not hold. */
export async function createClient(db: Db, c: { name: string; kind: ClientKind; scopes?: readonly string[] }): Promise<{ client: OpenadrClient; clientSecret: string }> {
  const scopes = c.scopes?.length ? [...new Set(c.scopes)] : [...CLIENT_KIND_SCOPES[c.kind]];
  for (const s of scopes) {
    if (!isOpenadrScope(s)) throw new HttpProblem(400, `scopes: unknown OpenADR scope '${s}' (known: ${Object.keys(OPENADR_SCOPES).join(', ')})`, 'scopes');
    if (!CLIENT_KIND_SCOPES[c.kind].includes(s)) throw new HttpProblem(400, `scopes: a ${c.kind} client cannot hold '${s}'`, 'scopes');
  }
  const clientId = `oadr_${randomBytes(8).toString('hex')}`;
  const clientSecret = randomBytes(32).toString('base64url');
  const [row] = await db.query<Row>(
    `INSERT INTO openadr_clients (client_id, name, kind, scopes, secret_hash) VALUES ($1, $2, $3, $4::text[], $5)
     RETURNING client_id, name, kind, scopes, created_at, revoked_at`, [clientId, c.name, c.kind, scopes.sort(), sha256(clientSecret)]);
  return { client: toClient(row!), clientSecret };
}

export async function listClients(db: Db): Promise<OpenadrClient[]> {
  return (await db.query<Row>('SELECT client_id, name, kind, scopes, created_at, revoked_at FROM openadr_clients ORDER BY created_at, client_id')).map(toClient);
}

/** Revokes a client: its tokens stop working at their next use. False when there is no such live client. */
export async function revokeClient(db: Db, clientId: string): Promise<boolean> {
  return (await db.query('UPDATE openadr_clients SET revoked_at = now() WHERE client_id = $1 AND revoked_at IS NULL RETURNING client_id', [clientId])).length > 0;
}

/** RFC 6749 §5.2 error of the token endpoint: `error` code, HTTP status (400, or 401 for invalid_client). */
export class OAuthError extends Error {
  readonly error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'invalid_scope' | 'unauthorized_client' | 'unsupported_grant_type';
  readonly status: 400 | 401;
  constructor(error: OAuthError['error'], description: string) {
    super(description);
    this.error = error;
    this.status = error === 'invalid_client' ? 401 : 400;
  }
}

// compared against when the client id is unknown, so a wrong id and a wrong secret take the same time
const DECOY_HASH = sha256(randomBytes(32).toString('base64url'));

/**
 * Issues an access token for a client's credentials: the requested scopes (space-separated; all the client's
 * when absent), each of which the client must hold (invalid_scope otherwise). Throws OAuthError.
 */
export async function issueClientToken(deps: AuthDeps, clientId: string, clientSecret: string, scope?: string): Promise<{ access_token: string; token_type: 'Bearer'; expires_in: number; scope: string }> {
  const [row] = await deps.db.query<Row>('SELECT client_id, name, kind, scopes, created_at, revoked_at, secret_hash FROM openadr_clients WHERE client_id = $1', [clientId]);
  const expected = row?.secret_hash ?? DECOY_HASH;
  const given = sha256(clientSecret);
  const match = timingSafeEqual(Buffer.from(given), Buffer.from(expected));
  if (!row || !match || row.revoked_at !== null) throw new OAuthError('invalid_client', 'unknown client, wrong secret, or revoked client');
  const requested = scope === undefined || scope.trim() === '' ? [...row.scopes] : [...new Set(scope.trim().split(/\s+/))];
  const missing = requested.filter((s) => !row.scopes.includes(s));
  if (missing.length) throw new OAuthError('invalid_scope', `the client does not hold ${missing.join(', ')}`);
  const key = await deps.ring.signingKey();
  const iat = Math.floor((deps.now ?? Date.now)() / 1000);
  const granted = requested.sort().join(' ');
  const token = await new SignJWT({ client_id: clientId, scope: granted })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP })
    .setIssuer(deps.settings.issuer).setAudience(deps.settings.audience).setSubject(clientId)
    .setIssuedAt(iat).setNotBefore(iat).setExpirationTime(iat + ACCESS_TOKEN_SECONDS).setJti(randomUUID())
    .sign(key.privateKey!);
  return { access_token: token, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, scope: granted };
}

/** Whether a bearer token claims to be a client token (has a client_id claim); its signature is not checked here. */
export function isClientToken(token: string): boolean {
  try {
    return typeof decodeJwt(token).client_id === 'string';
  } catch {
    return false;
  }
}

/**
 * Verifies a client token (verifySignedJwt) and that its client still exists unrevoked; the principal holds the
 * token's scopes, never more than the client holds now. Throws TokenRefused with the reason.
 */
export async function clientPrincipal(deps: AuthDeps, token: string): Promise<Principal> {
  const payload = await verifySignedJwt(deps.ring, deps.settings, token, (deps.now ?? Date.now)());
  const clientId = payload.client_id;
  if (typeof clientId !== 'string' || payload.sub !== clientId || typeof payload.scope !== 'string') throw new TokenRefused('the token lacks client_id or scope');
  const [row] = await deps.db.query<Row>('SELECT client_id, name, kind, scopes, created_at, revoked_at FROM openadr_clients WHERE client_id = $1', [clientId]);
  if (!row || row.revoked_at !== null) throw new TokenRefused('the client was revoked');
  const scopes = payload.scope.split(' ').filter((s) => row.scopes.includes(s));
  return { kind: 'key', id: clientId, userId: null, role: 'client', scopes };
}
