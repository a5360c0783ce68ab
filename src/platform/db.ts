import { mkdirSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { PGlite } from '@electric-sql/pglite';

export interface Db {
  readonly kind: 'postgres' | 'pglite';
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

function fromPostgres(sql: postgres.Sql | postgres.TransactionSql, root: postgres.Sql): Db {
  return {
    kind: 'postgres',
    query: async <T,>(text: string, params: unknown[] = []) =>
      (params.length === 0 && text.includes(';')
        ? await sql.unsafe(text).simple()
        : await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[],
    transaction: async <T,>(fn: (tx: Db) => Promise<T>) =>
      (await root.begin((tx) => fn(fromPostgres(tx, root)))) as T,
    close: () => root.end({ timeout: 5 }),
  };
}

function fromPglite(pg: PGlite | Parameters<Parameters<PGlite['transaction']>[0]>[0], root: PGlite): Db {
  return {
    kind: 'pglite',
    query: async <T,>(text: string, params: unknown[] = []) =>
      params.length === 0 && text.includes(';')
        ? ((await pg.exec(text)).at(-1)?.rows ?? []) as T[]
        : (await pg.query<T>(text, params)).rows,
    transaction: <T,>(fn: (tx: Db) => Promise<T>) => root.transaction((tx) => fn(fromPglite(tx, root))),
    close: () => root.close(),
  };
}

/** PostgreSQL when a URL is given, else PGlite stored in dataDir (or in memory for ':memory:'). */
export async function openDb(opts: { databaseUrl?: string | undefined; dataDir: string }): Promise<Db> {
  if (opts.databaseUrl) {
    const sql = postgres(opts.databaseUrl, { max: 10, onnotice: () => {}, connect_timeout: 5 });
    try {
      await sql`select 1`;
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw new Error(`cannot reach DATABASE_URL: ${(err as Error).message}`, { cause: err });
    }
    return fromPostgres(sql, sql);
  }
  let dir: string | undefined;
  if (opts.dataDir !== ':memory:') {
    dir = path.resolve(opts.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
  }
  const pg = new PGlite(dir);
  await pg.waitReady;
  return fromPglite(pg, pg);
}
