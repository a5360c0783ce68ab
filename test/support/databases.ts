import postgres from 'postgres';
import { openDb, type Db } from '../../src/platform/db.ts';

export interface TestDb { name: string; open(): Promise<Db> }

/**
 * Every storage test runs on PGlite and, when TEST_DATABASE_URL (or DATABASE_URL) is set, on
 * real PostgreSQL in a fresh schema per open() so tests never see each other's rows.
 * With `pgliteWorker`, also on PGlite in memory on its own worker thread (pglite-thread.ts: the store of
 * `gridpulse start`), for the tests that exercise the embedded store hardest.
 */
export function testDatabases(opts: { pgliteWorker?: boolean } = {}): TestDb[] {
  const list: TestDb[] = [{ name: 'pglite', open: () => openDb({ dataDir: ':memory:' }) }];
  if (opts.pgliteWorker) list.push({ name: 'pglite on a worker thread', open: () => openDb({ dataDir: ':memory:', thread: 'worker' }) });
  const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (url) {
    list.push({
      name: 'postgres',
      open: async () => {
        const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
        const admin = postgres(url, { max: 1, onnotice: () => {} });
        await admin.unsafe(`CREATE SCHEMA ${schema}`);
        await admin.end();
        const u = new URL(url);
        u.searchParams.set('options', `-c search_path=${schema}`);
        const db = await openDb({ databaseUrl: u.toString(), dataDir: ':memory:' });
        return { ...db, close: async () => { await db.query(`DROP SCHEMA ${schema} CASCADE`); await db.close(); } };
      },
    });
  }
  return list;
}
