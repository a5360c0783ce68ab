import postgres from 'postgres';
import { openDb, type Db } from '../../src/platform/db.ts';

/** A store a spawned `gridpulse` process runs on: the environment it needs, a way to look at it from the test, and its clean-up. */
export interface ProcessTarget { name: string; env: Record<string, string>; open(): Promise<Db>; drop(): Promise<void> }

/**
 * The stores the process tests run on: an embedded store in the test's DATA_DIR, and, when TEST_DATABASE_URL (or
 * DATABASE_URL) is set, a PostgreSQL schema of its own (named `<prefix>_<pid>_<random>`, dropped afterwards).
 */
export function processTargets(prefix: string): Array<{ name: string; make(dir: string): Promise<ProcessTarget> }> {
  const list = [{
    name: 'pglite',
    make: async (dir: string): Promise<ProcessTarget> => ({ name: 'pglite', env: {}, open: () => openDb({ dataDir: dir }), drop: async () => {} }),
  }];
  const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (url) {
    list.push({
      name: 'postgres',
      make: async (): Promise<ProcessTarget> => {
        const schema = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
        const admin = postgres(url, { max: 1, onnotice: () => {} });
        await admin.unsafe(`CREATE SCHEMA ${schema}`);
        await admin.end();
        const u = new URL(url);
        u.searchParams.set('options', `-c search_path=${schema}`);
        return {
          name: 'postgres',
          env: { DATABASE_URL: u.toString() },
          open: () => openDb({ databaseUrl: u.toString(), dataDir: ':memory:' }),
          drop: async () => {
            const a = postgres(url, { max: 1, onnotice: () => {} });
            await a.unsafe(`DROP SCHEMA ${schema} CASCADE`);
            await a.end();
          },
        };
      },
    });
  }
  return list;
}

/** Runs fn on a connection of its own to the target's store, closed afterwards. */
export async function withDb<T>(target: ProcessTarget, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await target.open();
  try { return await fn(db); } finally { await db.close(); }
}
