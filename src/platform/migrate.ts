import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';

const dir = fileURLToPath(new URL('../../migrations/', import.meta.url));

export function migrationFiles(): string[] {
  return readdirSync(dir).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
}

/**
 * Applies numbered SQL migrations not yet recorded, each in its own transaction; returns the files applied.
 * `before` (a file name or its number, e.g. '0040') stops short of it: tests build the schema a migration meets.
 */
export async function migrate(db: Db, opts: { before?: string } = {}): Promise<string[]> {
  await db.query('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
  const done = new Set((await db.query<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name));
  const applied: string[] = [];
  for (const file of migrationFiles()) {
    if (opts.before !== undefined && file >= opts.before) break;
    if (done.has(file)) continue;
    const text = readFileSync(dir + file, 'utf8');
    await db.transaction(async (tx) => {
      await tx.query(text);
      await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
    });
    applied.push(file);
  }
  return applied;
}

export async function pendingMigrations(db: Db): Promise<string[]> {
  const done = new Set((await db.query<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name));
  return migrationFiles().filter((f) => !done.has(f));
}
