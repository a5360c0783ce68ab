import { parentPort } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { fromPglite, type Db } from './db.ts';
import type { Request, Reply, SerializedError } from './pglite-thread.ts';

/**
 * The worker thread of pglite-thread.ts: owns the PGlite instance and runs each request on fromPglite's Db, so the
 * embedded store behaves exactly as it does on the main thread. A transaction is a session: its callback here waits
 * until the main thread ends it, and runs that session's requests meanwhile (PGlite's own mutex holds the others).
 */
const port = parentPort!;
let db: Db | undefined;
const sessions = new Map<number, { db: Db; end(commit: boolean): void }>();
const listeners = new Map<number, () => Promise<void>>();
let nextSession = 1;
const finished = new Map<number, Promise<void>>();

/** Thrown into a session's callback to roll it back; never reaches the main thread. */
const ROLLBACK = Symbol('rollback');

function serialize(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { message: String(err), fields: {} };
  const fields: Record<string, string | number | boolean> = {};
  // DatabaseError's code, detail, constraint, table, …: callers test e.code === '23505'
  for (const [k, v] of Object.entries(err)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') fields[k] = v;
  return { name: err.name, message: err.message, stack: err.stack, fields };
}

function target(session: number): Db {
  if (session === 0) {
    if (!db) throw new Error('the embedded store is not open');
    return db;
  }
  const s = sessions.get(session);
  if (!s) throw new Error(`transaction ${session} has ended`);
  return s.db;
}

/** Opens a transaction (a savepoint inside a session); resolves with its session id once it holds the store. */
function begin(parent: number): Promise<number> {
  const outer = target(parent);
  return new Promise((started, failed) => {
    const id = nextSession++;
    let settle!: { resolve(): void; reject(e: unknown): void };
    const ended = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
    let began = false;
    const done = outer.transaction(async (tx) => {
      began = true;
      sessions.set(id, { db: tx, end: (commit) => (commit ? settle.resolve() : settle.reject(ROLLBACK)) });
      started(id);
      await ended;
    }).finally(() => sessions.delete(id));
    // BEGIN or SAVEPOINT refused (an aborted transaction): no session to end. Once begun, end() reports the outcome.
    done.catch((err: unknown) => { if (!began) { finished.delete(id); failed(err); } });
    finished.set(id, done);
  });
}

async function end(session: number, commit: boolean): Promise<void> {
  const s = sessions.get(session);
  const done = finished.get(session);
  if (!s || !done) throw new Error(`transaction ${session} has ended`);
  finished.delete(session);
  s.end(commit);
  try {
    await done;
  } catch (err) {
    if (err !== ROLLBACK) throw err; // a failed COMMIT (a deferred constraint) or ROLLBACK
  }
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'open': {
      const pg = new PGlite(req.dataDir ?? undefined);
      await pg.waitReady;
      db = fromPglite(pg, pg, undefined);
      return undefined;
    }
    case 'query': return target(req.session).query(req.text, req.params);
    case 'copy': {
      const on = target(req.session);
      // one request carries a whole copyInto: outside a transaction it loads all of it or none (one COPY per chunk)
      if (req.whole && req.session === 0 && req.chunks.length > 1) return on.transaction((tx) => tx.copyTextInto(req.table, req.columns, toAsync(req.chunks)));
      return on.copyTextInto(req.table, req.columns, toAsync(req.chunks));
    }
    case 'begin': return begin(req.session);
    case 'end': return end(req.session, req.commit);
    case 'listen': {
      const unlisten = await target(0).listen(req.channel, (payload) => port.postMessage({ notify: req.listener, payload } satisfies Reply));
      listeners.set(req.listener, unlisten);
      return undefined;
    }
    case 'unlisten': {
      const unlisten = listeners.get(req.listener);
      listeners.delete(req.listener);
      return unlisten?.();
    }
    case 'close': {
      const open = db;
      db = undefined;
      await open?.close();
      return undefined;
    }
  }
}

async function* toAsync(chunks: string[]): AsyncGenerator<string> { yield* chunks; }

port.on('message', (req: Request) => {
  handle(req).then(
    (result) => {
      try {
        port.postMessage({ id: req.id, ok: true, result } satisfies Reply);
      } catch (err) { // a result that cannot be cloned (none of PGlite's types): say so instead of hanging
        port.postMessage({ id: req.id, ok: false, error: serialize(err) } satisfies Reply);
      }
    },
    (err: unknown) => port.postMessage({ id: req.id, ok: false, error: serialize(err) } satisfies Reply),
  );
});
