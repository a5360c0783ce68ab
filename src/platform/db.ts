import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { acquireStoreLock } from './store-lock.ts';
import { openPgliteThread } from './pglite-thread.ts';
import { SpanKind, tracingEnabled, withSpan } from './tracing.ts';

import { copyLine, copyText, type CopyValue } from './copy-text.ts';

export { copyLine, type CopyValue };

export interface Db {
  readonly kind: 'postgres' | 'pglite';
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs fn in a transaction; called on a transaction's Db it opens a savepoint inside it. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * Bulk-loads rows with `COPY table (columns) FROM STDIN` (text format); rejects when the server
   * refuses any row, and then loads none. Outside a transaction it runs in one of its own, on some
   * pooled connection: load a temporary table from the Db of the transaction that created it.
   */
  copyInto(table: string, columns: readonly string[], rows: Iterable<readonly CopyValue[]>): Promise<void>;
  /**
   * The same with rows already encoded as COPY text (whole lines, copyLine), as they arrive: PostgreSQL takes them in
   * one `COPY … FROM STDIN` stream; PGlite, which has no COPY protocol, in one COPY per chunk. Same failure rule.
   */
  copyTextInto(table: string, columns: readonly string[], chunks: AsyncIterable<string>): Promise<void>;
  /**
   * Calls handler with the payload of every NOTIFY on channel (a lower-case SQL identifier),
   * as delivered: on commit of the notifying transaction. Resolves once listening; the returned
   * function stops it.
   */
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * A CLIENT span per statement when tracing is on (`db SELECT`, with the statement's text up to 500 characters:
 * parameters are never recorded); else just runs it. pglite-thread.ts makes its spans with it on the calling thread.
 */
export function traced<T>(kind: Db['kind'], text: string, run: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return run();
  const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'QUERY';
  return withSpan(`db ${operation}`, { 'db.system.name': kind === 'postgres' ? 'postgresql' : 'pglite', 'db.operation.name': operation, 'db.query.text': text.slice(0, 500) }, run, { kind: SpanKind.CLIENT });
}

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

function checkChannel(channel: string): void {
  // PGlite sends LISTEN unquoted and postgres.js quotes: only plain lower-case names mean the same to both.
  if (!CHANNEL.test(channel)) throw new Error(`listen: channel must be a lower-case SQL identifier, got ${JSON.stringify(channel)}`);
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

function copySql(table: string, columns: readonly string[], source: string): string {
  return `COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) FROM ${source}`;
}

function fromPostgres(sql: postgres.Sql | postgres.TransactionSql, root: postgres.Sql, inTransaction: boolean): Db {
  return {
    kind: 'postgres',
    query: <T,>(text: string, params: unknown[] = []) => traced('postgres', text, async () =>
      (params.length === 0 && text.includes(';')
        ? await sql.unsafe(text).simple()
        : await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[]),
    transaction: async <T,>(fn: (tx: Db) => Promise<T>) =>
      (inTransaction
        ? await (sql as postgres.TransactionSql).savepoint((sp) => fn(fromPostgres(sp, root, true)))
        : await root.begin((tx) => fn(fromPostgres(tx, root, true)))) as T,
    copyInto: async (table, columns, rows) => {
      if (!inTransaction) return void await root.begin((tx) => copyIn(tx, copySql(table, columns, 'STDIN'), copyText(rows)));
      await copyIn(sql as postgres.TransactionSql, copySql(table, columns, 'STDIN'), copyText(rows));
    },
    copyTextInto: async (table, columns, chunks) => {
      if (!inTransaction) return void await root.begin((tx) => copyIn(tx, copySql(table, columns, 'STDIN'), chunks));
      await copyIn(sql as postgres.TransactionSql, copySql(table, columns, 'STDIN'), chunks);
    },
    listen: async (channel, handler) => {
      checkChannel(channel);
      // postgres.js keeps one dedicated listening connection and re-listens after reconnects.
      const { unlisten } = await root.listen(channel, handler);
      return unlisten;
    },
    close: () => root.end({ timeout: 5 }),
  };
}

/**
 * postgres.js 3.4 never settles a COPY writable whose COPY fails after the last row was sent
 * (porsager/postgres#1173: a unique violation, a lost connection), so `pipeline` would wait
 * forever. Instead: write every chunk, end the stream once the socket has taken them all (Node
 * then sends CopyDone at once), and follow with a no-op query on the same connection. The server
 * answers it only after the COPY, and fails it when the COPY failed (the transaction is aborted).
 * A failure reported while rows are still streaming destroys the stream and rejects the writes.
 */
async function copyIn(tx: postgres.TransactionSql, statement: string, chunks: Iterable<string> | AsyncIterable<string>): Promise<void> {
  const stream = await tx.unsafe(statement).writable();
  let last: Promise<void> = Promise.resolve();
  try {
    for await (const chunk of chunks) {
      last = new Promise((resolve, reject) => { stream.write(chunk, (err) => (err ? reject(err) : resolve())); });
      last.catch(() => {}); // observed below, or superseded by the 'error' that once() rethrows
      if (stream.writableNeedDrain) await once(stream, 'drain');
    }
    await last;
  } catch (err) {
    stream.destroy(err as Error);
    throw err;
  }
  stream.end();
  try {
    await tx.unsafe('SELECT 1');
  } catch (err) {
    throw new Error(`${statement} failed (postgres.js reports no reason for a COPY that fails after its last row)`, { cause: err });
  }
}

let savepoints = 0;

async function withSavepoint<T>(tx: Transaction, fn: () => Promise<T>): Promise<T> {
  const name = `gp_sp_${++savepoints}`;
  await tx.exec(`SAVEPOINT ${name}`);
  try {
    const result = await fn();
    await tx.exec(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (err) {
    await tx.exec(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`);
    throw err;
  }
}

/**
 * PGlite runs the database in WebAssembly on the calling thread, and a query's promise settles without any I/O:
 * a job's chain of awaited queries would run from microtask to microtask and never let the event loop serve a
 * request (issue 11: /healthz waited 20 s behind the first fill). Every query first yields one turn of the loop.
 */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The Db of a PGlite instance on the calling thread (openDb's `thread: 'main'`), and what the store's worker thread
 * runs behind its RPC (pglite-thread-worker.ts).
 */
export function fromPglite(pg: PGlite | Transaction, root: PGlite, tx: Transaction | undefined): Db {
  const self: Db = {
    kind: 'pglite',
    query: <T,>(text: string, params: unknown[] = []) => traced('pglite', text, async () => {
      await yieldToLoop();
      return params.length === 0 && text.includes(';')
        ? ((await pg.exec(text)).at(-1)?.rows ?? []) as T[]
        : (await pg.query<T>(text, params)).rows;
    }),
    transaction: <T,>(fn: (inner: Db) => Promise<T>) =>
      tx ? withSavepoint(tx, () => fn(self)) : root.transaction((t) => fn(fromPglite(t, root, t))),
    copyInto: async (table, columns, rows) => {
      // PGlite has no COPY protocol: it reads the rows from a blob mounted at /dev/blob.
      await yieldToLoop();
      await pg.query(copySql(table, columns, `'/dev/blob'`), [], { blob: new Blob([...copyText(rows)]) });
    },
    copyTextInto: async (table, columns, chunks) => {
      for await (const chunk of chunks) {
        await yieldToLoop();
        await pg.query(copySql(table, columns, `'/dev/blob'`), [], { blob: new Blob([chunk]) });
      }
    },
    listen: async (channel, handler) => {
      checkChannel(channel);
      const unlisten = await root.listen(channel, handler);
      return () => unlisten();
    },
    close: () => root.close(),
  };
  return self;
}

/**
 * postgres.js leaves Nagle's algorithm on, so the small CopyDone message that ends every COPY
 * waits for the server's delayed ACK (about 40 ms, measured); this connects with TCP_NODELAY.
 * Tries each host of a multi-host URL in turn; a unix socket path needs no such option.
 */
async function connectNoDelay(o: { host: string[]; port: number[]; path: string | false; connect_timeout: number }): Promise<net.Socket> {
  let lastError: unknown = new Error('no host to connect to');
  const targets = o.path ? [{ path: o.path }] : o.host.map((host, i) => ({ host, port: o.port[i] ?? o.port[0]!, noDelay: true }));
  for (const target of targets) {
    const socket = net.connect(target);
    try {
      await once(socket, 'connect', { signal: AbortSignal.timeout(o.connect_timeout * 1000) });
      return socket;
    } catch (err) {
      socket.destroy();
      lastError = err;
    }
  }
  throw lastError;
}

/**
 * PostgreSQL when a URL is given, else PGlite stored in dataDir (or in memory for ':memory:').
 * An embedded store has one owner: a second process opening it gets a StoreLockedError (store-lock.ts).
 * `thread` says where PGlite runs: 'worker' (the default for a data directory, the store of `gridpulse start`) on a
 * worker thread of its own (pglite-thread.ts), so its statements never hold up the HTTP event loop; 'main' (the
 * default for ':memory:') on the calling thread, where each statement runs synchronously in WebAssembly.
 */
export async function openDb(opts: { databaseUrl?: string | undefined; dataDir: string; thread?: 'main' | 'worker' }): Promise<Db> {
  if (opts.databaseUrl) {
    // `socket` is a documented postgres.js option that its type declarations lack.
    const sql = postgres(opts.databaseUrl, { max: 10, onnotice: () => {}, connect_timeout: 5, socket: connectNoDelay } as postgres.Options<Record<string, never>>);
    try {
      await sql`select 1`;
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw new Error(`cannot reach DATABASE_URL: ${(err as Error).message}`, { cause: err });
    }
    return fromPostgres(sql, sql, false);
  }
  if (opts.dataDir === ':memory:') {
    if (opts.thread === 'worker') return openPgliteThread(null);
    const pg = new PGlite();
    await pg.waitReady;
    return fromPglite(pg, pg, undefined);
  }
  const dir = path.resolve(opts.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const release = acquireStoreLock(dir);
  try {
    let db: Db;
    if (opts.thread === 'main') {
      const pg = new PGlite(dir);
      await pg.waitReady;
      db = fromPglite(pg, pg, undefined);
    } else {
      db = await openPgliteThread(dir);
    }
    return { ...db, close: async () => { try { await db.close(); } finally { release(); } } };
  } catch (err) {
    release();
    throw err;
  }
}
