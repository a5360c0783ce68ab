import { Worker } from 'node:worker_threads';
import { copyText } from './copy-text.ts';
import { traced, type Db } from './db.ts';

/**
 * The embedded PGlite store on a worker thread of its own (issue 11, item 3: PGlite runs each statement in
 * WebAssembly on the calling thread, and a week-long read takes 0.5–0.9 s, so the HTTP event loop stalled behind the
 * first fill and flow tracing). The worker (pglite-thread-worker.ts) runs db.ts's own PGlite adapter; this side is an
 * RPC behind the same Db interface:
 * - a transaction is a session in the worker: its queries run inside PGlite's transaction until this side commits
 *   or rolls it back, and other queries wait meanwhile, as PGlite's mutex makes them wait on one thread; a nested
 *   transaction is a savepoint in the session;
 * - errors keep PostgreSQL's fields (code, detail, constraint, table, …) so that `e.code === '23505'` still works;
 * - values cross by structured clone: Date, bigint, Uint8Array, parsed jsonb and arrays arrive as PGlite made them;
 *   a parameter that cannot be cloned (a function) rejects the query;
 * - copyInto encodes its rows here (COPY text) and sends them in one message; outside a transaction they load in one
 *   transaction (all or none); copyTextInto sends each chunk as it arrives (one COPY per chunk, as on PGlite);
 * - NOTIFYs are posted back as they are delivered (on commit).
 * The worker holds the process open only while a request is in flight. If it dies, every pending and later call
 * rejects. The store lock (store-lock.ts) stays with the caller on this thread.
 */

/** A request to the worker; `session` 0 is the store outside any transaction. */
export type Request = { id: number } & (
  | { op: 'open'; dataDir: string | null }
  | { op: 'query'; session: number; text: string; params: unknown[] }
  | { op: 'copy'; session: number; table: string; columns: readonly string[]; chunks: string[]; whole: boolean }
  | { op: 'begin'; session: number }
  | { op: 'end'; session: number; commit: boolean }
  | { op: 'listen'; channel: string; listener: number }
  | { op: 'unlisten'; listener: number }
  | { op: 'close' }
);

/** An Error's name, message, stack and primitive own fields (DatabaseError's code, detail, …). */
export interface SerializedError { name?: string; message: string; stack?: string | undefined; fields: Record<string, string | number | boolean> }

export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: SerializedError }
  | { notify: number; payload: string };

type Op = Request extends infer R ? R extends { op: infer O } ? O : never : never;
type Body<O extends Op> = Omit<Extract<Request, { op: O }>, 'id' | 'op'>;

const WORKER = new URL('./pglite-thread-worker.ts', import.meta.url);

/** Rebuilds the worker's error on this thread, keeping its fields and both stacks. */
function revive(e: SerializedError): Error {
  const err = new Error(e.message);
  if (e.name) err.name = e.name;
  Object.assign(err, e.fields);
  err.stack = `${e.stack ?? `${err.name}: ${e.message}`}\n    --- on the embedded store's thread, called from ---\n${(new Error().stack ?? '').split('\n').slice(2).join('\n')}`;
  return err;
}

/**
 * Opens PGlite on a worker thread: in `dataDir` (a directory the caller has locked), or in memory when null.
 * Resolves once the store is ready; rejects with the worker's error (a damaged data directory) and stops the thread.
 */
/**
 * The error every call gets once the store's thread has stopped (closed, crashed, exited): code
 * EMBEDDED_STORE_STOPPED, which db.ts databaseUnavailable counts as the database being unavailable (API: 503).
 */
function storeStopped(message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code: 'EMBEDDED_STORE_STOPPED' });
}

export async function openPgliteThread(dataDir: string | null): Promise<Db> {
  // no inherited flags: under `node --test` they would make the thread a second test-runner child
  const worker = new Worker(WORKER, { execArgv: [] });
  worker.unref();
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const handlers = new Map<number, (payload: string) => void>();
  let nextId = 1;
  let stopped: Error | undefined;

  const stop = (err: Error) => {
    stopped ??= err;
    for (const p of pending.values()) p.reject(stopped);
    pending.clear();
    worker.unref();
  };
  worker.on('message', (reply: Reply) => {
    if ('notify' in reply) return handlers.get(reply.notify)?.(reply.payload);
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    if (reply.ok) p.resolve(reply.result);
    else p.reject(revive(reply.error));
  });
  worker.on('error', (err) => stop(storeStopped(`the embedded store's thread failed: ${err.message}`, err)));
  worker.on('exit', (code) => stop(storeStopped(`the embedded store's thread has stopped (exit code ${code})`)));

  function call<O extends Op>(op: O, body: Body<O>): Promise<unknown> {
    if (stopped) return Promise.reject(stopped);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      try {
        worker.postMessage({ id, op, ...body });
      } catch (err) { // DataCloneError: a parameter structured clone cannot carry
        return reject(new TypeError(`embedded store: the ${op} cannot be sent to the store's thread: ${(err as Error).message}`, { cause: err }));
      }
      pending.set(id, { resolve, reject });
      worker.ref();
    });
  }

  function session(id: number): Db {
    const self: Db = {
      kind: 'pglite',
      // the span is made here, where the caller's trace lives (the worker's own spans would go nowhere)
      query: <T,>(text: string, params: unknown[] = []) => traced('pglite', text, async () => await call('query', { session: id, text, params }) as T[]),
      transaction: async <T,>(fn: (tx: Db) => Promise<T>) => {
        const inner = await call('begin', { session: id }) as number;
        let result: T;
        try {
          result = await fn(session(inner));
        } catch (err) {
          await call('end', { session: inner, commit: false }).catch(() => {}); // the caller's error says more
          throw err;
        }
        await call('end', { session: inner, commit: true });
        return result;
      },
      copyInto: async (table, columns, rows) => {
        await call('copy', { session: id, table, columns, chunks: [...copyText(rows)], whole: true });
      },
      copyTextInto: async (table, columns, chunks) => {
        for await (const chunk of chunks) await call('copy', { session: id, table, columns, chunks: [chunk], whole: false });
      },
      listen: async (channel, handler) => {
        const listener = nextId++;
        handlers.set(listener, handler);
        try {
          await call('listen', { channel, listener });
        } catch (err) {
          handlers.delete(listener);
          throw err;
        }
        return async () => {
          handlers.delete(listener);
          await call('unlisten', { listener });
        };
      },
      close: async () => {
        if (stopped) return;
        try {
          await call('close', {});
        } finally {
          stop(storeStopped('the embedded store is closed'));
          await worker.terminate();
        }
      },
    };
    return self;
  }

  try {
    await call('open', { dataDir });
  } catch (err) {
    stop(err as Error);
    await worker.terminate();
    throw err;
  }
  return session(0);
}
