import { loadConfig } from '../platform/config.ts';
import { openDb, type Db } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/api-keys.ts';
import { KEY_KINDS, type KeyKind } from '../auth/scopes.ts';
import { rotateSigningKey, SIGNING_ALGS, type SigningAlg } from '../auth/signing-keys.ts';
import { audit, systemActor } from '../auth/audit.ts';
import { findUserByEmail } from '../auth/users.ts';
import { isUserRole } from '../auth/principal.ts';

export async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

export interface KeysCreateOptions { kind?: string; role?: string; scope?: string[]; name?: string; expires?: string; owner?: string }

/**
 * `gridpulse keys create --kind worker|device|personal [--scope s]… [--expires ISO] [--owner email] [--name n]`
 * (`--role worker` still means `--kind worker`): prints the token once; only its hash is kept.
 */
export async function keysCreate(opts: KeysCreateOptions): Promise<number> {
  const kind = opts.kind ?? (opts.role === 'worker' || opts.role === 'admin' ? 'worker' : opts.role);
  if (!kind || !(KEY_KINDS as readonly string[]).includes(kind)) throw new Error(`--kind: expected one of ${KEY_KINDS.join(', ')}, got '${kind ?? ''}'`);
  let expiresAt: Date | undefined;
  if (opts.expires !== undefined) {
    expiresAt = new Date(opts.expires);
    if (!/^\d{4}-\d{2}-\d{2}/.test(opts.expires) || Number.isNaN(expiresAt.getTime())) throw new Error(`--expires: an ISO date or instant, got '${opts.expires}'`);
  }
  const { key, token } = await withDb(async (db) => {
    let owner: { id: string; role: import('../auth/principal.ts').UserRole } | undefined;
    if (opts.owner !== undefined) {
      const u = await findUserByEmail(db, opts.owner);
      if (!u) throw new Error(`--owner: no user ${opts.owner}`);
      if (!isUserRole(u.role)) throw new Error('--owner: unexpected role');
      owner = { id: u.id, role: u.role };
    }
    return db.transaction(async (tx) => {
      const created = await createApiKey(tx, { kind: kind as KeyKind, scopes: opts.scope, name: opts.name, expiresAt, owner });
      await audit(tx, { ...systemActor(), action: 'keys.create', outcome: 'success', objectType: 'api_key', objectId: created.key.id, detail: { kind, scopes: created.key.scopes } });
      return created;
    });
  });
  process.stderr.write(`created ${key.kind} key ${key.id} (scopes ${key.scopes.join(' ')}${key.name ? `, name ${key.name}` : ''}${key.expiresAt ? `, expires ${key.expiresAt}` : ''}). Store the token now: it is not shown again.\n`);
  process.stdout.write(`${token}\n`);
  return 0;
}

export async function keysList(): Promise<number> {
  const keys = await withDb((db) => listApiKeys(db));
  const rows = [['id', 'kind', 'scopes', 'name', 'created', 'expires', 'last used', 'from', 'revoked'],
    ...keys.map((k) => [k.id, k.kind, k.scopes.join(' '), k.name ?? '', k.createdAt, k.expiresAt ?? '-', k.lastUsedAt ?? '-', k.lastUsedIp ?? '-', k.revokedAt ?? '-'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
  return 0;
}

export async function keysRevoke(id: string): Promise<number> {
  const done = await withDb((db) => db.transaction(async (tx) => {
    const ok = await revokeApiKey(tx, id);
    await audit(tx, { ...systemActor(), action: 'keys.revoke', outcome: ok ? 'success' : 'failure', objectType: 'api_key', objectId: id });
    return ok;
  }));
  process.stderr.write(done ? `revoked ${id}\n` : `no active key '${id}'\n`);
  return done ? 0 : 1;
}

/**
 * `gridpulse keys rotate-signing [--alg EdDSA|ES256] [--now]`: a new JWT signing key, published at once and signing
 * 6 minutes later (signing-keys.ts KEY_ACTIVATION_DELAY_SECONDS), or at once with --now (a compromised key); the old
 * one signs until then and verifies for two more hours.
 */
export async function keysRotateSigning(opts: { alg?: string; now?: boolean }): Promise<number> {
  const alg = opts.alg ?? loadConfig().AUTH_JWT_ALG;
  if (!(SIGNING_ALGS as readonly string[]).includes(alg)) throw new Error(`--alg: expected one of ${SIGNING_ALGS.join(', ')}, got '${alg}'`);
  const immediate = opts.now === true;
  const { kid, retired, signsFrom } = await withDb((db) => db.transaction(async (tx) => {
    const r = await rotateSigningKey(tx, alg as SigningAlg, { immediate });
    await audit(tx, { ...systemActor(), action: 'keys.rotate-signing', outcome: 'success', objectType: 'signing_key', objectId: r.kid, detail: { alg, retired: r.retired, immediate } });
    return r;
  }));
  const when = immediate ? 'signing now' : `published now, signing from ${signsFrom}`;
  process.stderr.write(`new signing key ${kid} (${alg}), ${when}${retired.length ? `; retiring ${retired.join(', ')} (${immediate ? 'now' : 'then'}; still verifying for 2 h after)` : ''}\n`);
  return 0;
}
