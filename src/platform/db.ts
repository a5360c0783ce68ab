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

/**
 * One PostgreSQL transaction's connection, shared by its savepoints: `lost` is the first error of one of its own
 * statements that showed the connection gone (databaseUnavailable: server crash or restart, reset, FATAL), else undefined.
 */
interface TxLink { lost: unknown; onLost?: (() => void) | undefined }

/**
 * Errors thrown by the caller's own code inside a transaction or savepoint (body): a savepoint rejects with them as
 * they are, and they say nothing of the connection (a refused webhook's ECONNREFUSED is not the database's).
 */
const callerErrors = new WeakSet<object>();

function markLost(link: TxLink, err: unknown): void {
  if (link.lost !== undefined) return;
  link.lost = err;
  link.onLost?.();
}

/** Socket errors that mean the database server cannot be reached (not a file or a programming error). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ENETRESET', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether err (or an error in its `cause` chain) means the database is unavailable now rather than the request or
 * the code being wrong — the ONE classification of "the database is gone": behind the API's 503 (problem.ts
 * problemOf), and behind a PostgreSQL transaction giving up its lost connection (fromPostgres). postgres.js's
 * CONNECTION_CLOSED / CONNECTION_DESTROYED / CONNECTION_ENDED / CONNECT_TIMEOUT, the socket errors of NETWORK_CODES,
 * SQLSTATE class 08 (connection exception), 57P01–57P03 (admin / crash shutdown, cannot connect now), 53300 (too many
 * connections), a FATAL or PANIC from the server, a COPY cut by a lost connection, and the embedded store's thread
 * having stopped (EMBEDDED_STORE_STOPPED, pglite-thread.ts). A statement the server refused
 * (a constraint, a syntax error) is not one of these.
 */
export function databaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof CopyInterruptedError) return true;
    const { code, severity } = e as { code?: unknown; severity?: unknown };
    if (severity === 'FATAL' || severity === 'PANIC') return true;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || /^(CONNECTION_(CLOSED|DESTROYED|ENDED)$|CONNECT_TIMEOUT$|EMBEDDED_STORE_STOPPED$|08|57P0[123]$|53300$)/.test(code))) return true;
  }
  return false;
}

/**
 * Whether err (or an error in its `cause` chain) is the database refusing the data of a statement rather than being
 * unavailable: SQLSTATE class 22 (data exception: a number out of range, an invalid or out-of-range datetime, a bad
 * text representation) or class 23 (integrity constraint violation), or a COPY whose rows the server refused without
 * a reason (CopyRefusedError). Retrying the same data never helps; a batch
 * writer isolates the rows refused and stores the rest (gateway.ts). Never true when databaseUnavailable is.
 */
export function refusedForContent(err: unknown): boolean {
  if (databaseUnavailable(err)) return false;
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof CopyRefusedError) return true;
    const { code } = e as { code?: unknown };
    if (typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
  }
  return false;
}

/** How long a transaction whose connection was lost waits for postgres.js to reject it before rejecting itself. */
const LOST_TX_GRACE_MS = 5_000;

/**
 * Parameterized statements run prepared: postgres.js names each distinct text once per connection and then sends
 * only Bind and Execute. An unnamed statement (postgres.js's default for `unsafe`) is parsed and described first, and
 * the Bind waits for the server's ParameterDescription: two round trips and a parse and plan for every execution.
 * Under load each round trip waits for a CPU: a 10,000-device fleet rollout issues and publishes in chunks of a dozen
 * statements each, and preparing them took its p99 from the API call to the last stored ack from 1.83–2.02 s to
 * 1.66–1.84 s in three runs each, with a tenth less PostgreSQL CPU (bench/RESULTS.md, 2026-12-01 12:24). Bounded: the first
 * PREPARED_TEXTS_MAX distinct texts of a pool are prepared, later ones run unnamed, so SQL built with a varying text
 * cannot grow postgres.js's per-connection cache or the server's prepared statements without end. (Behind PgBouncer
 * in transaction mode this needs PgBouncer ≥ 1.21 with max_prepared_statements: deploy/OPERATIONS.md.)
 */
export const PREPARED_TEXTS_MAX = 1_000;
const preparedTexts = new WeakMap<postgres.Sql, Set<string>>();

function preparedText(root: postgres.Sql, text: string): boolean {
  let texts = preparedTexts.get(root);
  if (!texts) { texts = new Set(); preparedTexts.set(root, texts); }
  if (texts.has(text)) return true;
  if (texts.size >= PREPARED_TEXTS_MAX) return false;
  texts.add(text);
  return true;
}

/**
 * postgres.js 3.4.9 sends a transaction's statements straight to its reserved connection, even after that
 * connection closed: the write is scheduled with setImmediate and then throws "Cannot read properties of null
 * (reading 'write')" from the timer (an uncaught exception: porsager/postgres#1154, #1208), or, once the pooled
 * connection reconnected, runs outside the transaction (#1216). Its `begin`/`savepoint` themselves send a
 * ROLLBACK when the callback rejects. So once a transaction's connection is lost: no statement of ours is sent on
 * it (each rejects with the loss at once), and the callback given to begin/savepoint never settles, so postgres.js
 * sends no ROLLBACK; the outer begin rejects when postgres.js sees the close (it races its connection's close),
 * or after LOST_TX_GRACE_MS. The server rolls the transaction back with the connection: nothing of it is stored.
 */
function fromPostgres(sql: postgres.Sql | postgres.TransactionSql, root: postgres.Sql, link: TxLink | undefined): Db {
  const guarded = async <T,>(run: () => Promise<T>): Promise<T> => {
    if (link?.lost !== undefined) throw link.lost;
    try {
      return await run();
    } catch (err) {
      if (link && !(typeof err === 'object' && err !== null && callerErrors.has(err)) && databaseUnavailable(err)) markLost(link, err);
      throw err;
    }
  };
  /**
   * fn's result, or (connection lost) a promise that never settles: see above. Only the transaction's own statements
   * (guarded) tell whether its connection is lost: an error of the caller's (a file not found, a refused webhook:
   * ENOENT, ECONNREFUSED) thrown inside fn rolls the transaction back as usual, on a connection that is still there.
   */
  const body = (inner: TxLink, fn: () => Promise<unknown>) => async () => {
    try {
      return await fn();
    } catch (err) {
      if (inner.lost !== undefined) return new Promise<never>(() => {});
      if (typeof err === 'object' && err !== null) callerErrors.add(err);
      throw err;
    }
  };
  const begin = async <T,>(fn: (tx: Db) => Promise<T>): Promise<T> => {
    const inner: TxLink = { lost: undefined };
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      inner.onLost = () => { timer = setTimeout(() => reject(inner.lost), LOST_TX_GRACE_MS).unref(); };
    });
    watchdog.catch(() => {});
    try {
      return await Promise.race([root.begin((tx) => body(inner, () => fn(fromPostgres(tx, root, inner)))()) as Promise<T>, watchdog]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    kind: 'postgres',
    query: <T,>(text: string, params: unknown[] = []) => traced('postgres', text, () => guarded(async () =>
      (params.length === 0 && text.includes(';')
        ? await sql.unsafe(text).simple()
        : await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: params.length > 0 && preparedText(root, text) })) as unknown as T[])),
    transaction: async <T,>(fn: (tx: Db) => Promise<T>) => {
      if (!link) return begin(fn);
      return guarded(async () => await (sql as postgres.TransactionSql).savepoint((sp) => body(link, () => fn(fromPostgres(sp, root, link)))()) as T);
    },
    copyInto: async (table, columns, rows) => {
      if (!link) return void await begin((tx) => tx.copyInto(table, columns, rows));
      await guarded(() => copyIn(sql as postgres.TransactionSql, copySql(table, columns, 'STDIN'), copyText(rows)));
    },
    copyTextInto: async (table, columns, chunks) => {
      if (!link) return void await begin((tx) => tx.copyTextInto(table, columns, chunks));
      await guarded(() => copyIn(sql as postgres.TransactionSql, copySql(table, columns, 'STDIN'), chunks));
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
 *
 * A connection cut mid-COPY (a crashed or restarted server, a reset): postgres.js then nulls its socket, and its
 * stream's write/final/destroy throw "Cannot read properties of null (reading 'write')" — synchronously, or as an
 * 'error' event with no listener (an uncaught exception), and a stream waiting for 'drain' waits forever. So the
 * stream always has an 'error' listener, every step races the first failure seen (stream error or close, or the
 * connection's end), and the COPY rejects with `CopyInterruptedError`: the transaction is rolled back (the server
 * drops it with the connection), nothing of it is stored, and the caller may retry the batch.
 */
export class CopyInterruptedError extends Error {
  constructor(statement: string, cause: unknown) {
    super(`${statement} interrupted: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'CopyInterruptedError';
  }
}

/**
 * The server refused a COPY's rows after its last row (postgres.js reports no reason then; the next statement found the
 * transaction aborted, so the connection is fine): a value of the rows, not the database, is at fault (refusedForContent).
 */
export class CopyRefusedError extends Error {
  constructor(statement: string, cause: unknown) {
    super(`${statement} refused by the server (postgres.js reports no reason for a COPY that fails after its last row)`, { cause });
    this.name = 'CopyRefusedError';
  }
}

/** A server's refusal (a PostgresError: unique violation, …) as it is; anything else means the COPY was cut. */
function asCopyFailure(statement: string, failure: unknown): unknown {
  return failure instanceof postgres.PostgresError || databaseUnavailable(failure) ? failure : new CopyInterruptedError(statement, failure);
}

/** The caller's rows, their source's own failure (a download reset: ECONNRESET) marked as the caller's (callerErrors). */
async function* callerSource(chunks: Iterable<string> | AsyncIterable<string>): AsyncGenerator<string> {
  try {
    yield* chunks;
  } catch (err) {
    if (typeof err === 'object' && err !== null) callerErrors.add(err);
    throw err;
  }
}

async function copyIn(tx: postgres.TransactionSql, statement: string, chunks: Iterable<string> | AsyncIterable<string>): Promise<void> {
  const stream = await tx.unsafe(statement).writable();
  let failure: unknown;
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => {
    fail = (err) => { if (failure === undefined) { failure = err ?? new Error('COPY stream closed'); reject(failure); } };
  });
  failed.catch(() => {});
  stream.on('error', fail);
  stream.on('close', () => { if (!stream.writableFinished) fail(new Error('COPY stream closed before its end (connection lost)')); });
  const step = <T,>(p: Promise<T>): Promise<T> => Promise.race([p, failed]);
  let last: Promise<void> = Promise.resolve();
  try {
    for await (const chunk of callerSource(chunks)) {
      if (failure !== undefined) throw failure;
      // a throw from stream.write (postgres.js writing to its nulled socket) rejects this promise
      last = new Promise((resolve, reject) => { stream.write(chunk, (err) => (err ? reject(err) : resolve())); });
      last.catch(() => {}); // observed below, or superseded by the failure that step() rethrows
      if (stream.writableNeedDrain) await step(once(stream, 'drain'));
    }
    await step(last);
    if (failure !== undefined) throw failure;
    stream.end();
  } catch (err) {
    try { if (!stream.destroyed) stream.destroy(err as Error); } catch { /* postgres.js writing to a nulled socket */ }
    throw failure !== undefined ? asCopyFailure(statement, failure) : err;
  }
  try {
    await step(tx.unsafe('SELECT 1').then(() => undefined));
  } catch (err) {
    if (failure !== undefined) throw asCopyFailure(statement, failure);
    // the server answered the next statement with "transaction aborted": it refused the COPY's rows (a value its column
    // cannot hold, an encoding error); the connection is fine
    if ((err as { code?: unknown }).code === '25P02') throw new CopyRefusedError(statement, err);
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
 * Each call takes the next host of a multi-host URL (as postgres.js does itself); a unix socket path needs no such
 * option. Returns the socket at once, still connecting: postgres.js writes its startup message straight away (Node
 * holds it until connected) and watches the socket's error and close itself, with its own connect_timeout. (An
 * earlier version awaited the connection and rejected on failure: postgres.js then leaves that connection in its
 * `connecting` queue for good, and after `max` failures — a server restarting — every query waited forever.)
 */
let nextHost = 0;
function connectNoDelay(o: { host: string[]; port: number[]; path: string | false }): net.Socket {
  if (o.path) return net.connect({ path: o.path });
  const i = nextHost++ % o.host.length;
  return net.connect({ host: o.host[i]!, port: o.port[i] ?? o.port[0]!, noDelay: true });
}

/**
 * json/jsonb parameters on PostgreSQL as PGlite takes them: a string is JSON text, passed as is; any other value is
 * JSON.stringify'd. postgres.js by default stringifies a string once more, so a writer handing JSON text to a jsonb
 * parameter stored a jsonb STRING on PostgreSQL and an object on PGlite (issue 12 finding 5; migration 0044 repairs
 * the rows). One rule here covers every jsonb write, present and future (test/stored-and-exported.test.ts walks the
 * schema). A jsonb string value is therefore written as its JSON text ('"text"'), on both stores.
 * Reads: json and jsonb values arrive decoded on both stores (PGlite decodes them itself; `parse` here for
 * postgres.js) — objects, arrays, numbers, strings as stored. This is the one place jsonb is decoded: readers use
 * the value as it comes and never JSON.parse it again.
 */
const JSON_PARAMETERS = {
  json: { to: 3802, from: [114, 3802], serialize: (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x)), parse: (x: string) => JSON.parse(x) as unknown },
};

/**
 * PostgreSQL when a URL is given, else PGlite stored in dataDir (or in memory for ':memory:').
 * PostgreSQL is probed with `select 1`: unreachable, it rejects with `cannot reach <urlName>: <cause>` (urlName: where
 * the URL came from, default `DATABASE_URL`), unless `probe` is false: then the pool is returned at once and connects
 * on each statement until the server answers (a dependency the caller keeps retrying, e.g. the replica).
 * An embedded store has one owner: a second process opening it gets a StoreLockedError (store-lock.ts).
 * `thread` says where PGlite runs: 'worker' (the default for a data directory, the store of `gridpulse start`) on a
 * worker thread of its own (pglite-thread.ts), so its statements never hold up the HTTP event loop; 'main' (the
 * default for ':memory:') on the calling thread, where each statement runs synchronously in WebAssembly.
 */
export async function openDb(opts: { databaseUrl?: string | undefined; dataDir: string; thread?: 'main' | 'worker'; urlName?: string; probe?: boolean }): Promise<Db> {
  if (opts.databaseUrl) {
    // `socket` is a documented postgres.js option that its type declarations lack. `types.json`: see JSON_PARAMETERS.
    const sql = postgres(opts.databaseUrl, { max: 10, onnotice: () => {}, connect_timeout: 5, socket: connectNoDelay, types: JSON_PARAMETERS } as unknown as postgres.Options<Record<string, never>>);
    if (opts.probe === false) return fromPostgres(sql, sql, undefined);
    try {
      await sql`select 1`;
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw new Error(`cannot reach ${opts.urlName ?? 'DATABASE_URL'}: ${(err as Error).message}`, { cause: err });
    }
    return fromPostgres(sql, sql, undefined);
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
