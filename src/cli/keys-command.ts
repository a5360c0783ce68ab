import { loadConfig } from '../platform/config.ts';
import { openDb, type Db } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { createApiKey, listApiKeys, revokeApiKey, ROLES, type Role } from '../auth/api-keys.ts';

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** `gridpulse keys create --role worker [--name n]`: prints the token once; only its hash is kept. */
export async function keysCreate(opts: { role: string; name?: string }): Promise<number> {
  if (!(ROLES as readonly string[]).includes(opts.role)) throw new Error(`--role: expected one of ${ROLES.join(', ')}, got '${opts.role}'`);
  const { key, token } = await withDb((db) => createApiKey(db, { role: opts.role as Role, name: opts.name }));
  process.stderr.write(`created key ${key.id} (role ${key.role}${key.name ? `, name ${key.name}` : ''}). Store the token now: it is not shown again.\n`);
  process.stdout.write(`${token}\n`);
  return 0;
}

export async function keysList(): Promise<number> {
  const keys = await withDb((db) => listApiKeys(db));
  const rows = [['id', 'role', 'name', 'created', 'last used', 'revoked'],
    ...keys.map((k) => [k.id, k.role, k.name ?? '', k.createdAt, k.lastUsedAt ?? '-', k.revokedAt ?? '-'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
  return 0;
}

export async function keysRevoke(id: string): Promise<number> {
  const done = await withDb((db) => revokeApiKey(db, id));
  process.stderr.write(done ? `revoked ${id}\n` : `no active key '${id}'\n`);
  return done ? 0 : 1;
}
