import type { Logger } from 'pino';
import { openDb, type Db } from './db.ts';

export interface ReplicaOptions {
  /** The most a replica read may lag behind the primary (milliseconds, default 5000); beyond it reads go to the primary. */
  maxLagMs?: number;
  /** How often the replica's replay position is compared with the primary's (milliseconds, default 500). */
  pollMs?: number;
  logger?: Logger;
}

/** Where reads go now and why: `replica`, or `primary` with the reason (down, lagging, not yet polled). */
export interface ReplicaState { readsTo: 'replica' | 'primary'; reason?: string; lagMs?: number; lastError?: string }

/** A Db with its replica routing state (readiness reports it). */
export interface RoutedDb extends Db {
  replicaState(): ReplicaState;
}

/** Statements that only read: SELECT / WITH … SELECT / TABLE / VALUES, without row locks. */
const READ = /^\s*(?:select|with|table|values)\b/i;
const NOT_READ = /\bfor\s+(?:update|no\s+key\s+update|share|key\s+share)\b|\b(?:insert|update|delete|merge)\s|pg_advisory|nextval\s*\(|setval\s*\(|pg_notify\s*\(/i;
/** SQLSTATE 25006: a statement that writes (a function with side effects) refused by a hot standby. */
const READ_ONLY_TRANSACTION = '25006';
const UNREACHABLE = 'DATABASE_REPLICA_URL unreachable';

/**
 * DATABASE_REPLICA_URL: a Db that sends read-only statements to a streaming replica and everything else (writes,
 * transactions, COPY, LISTEN, advisory locks) to the primary. Reads use the replica only while it is reachable,
 * within `maxLagMs` of the primary, and has replayed every write this process made (read-your-write: after a write,
 * reads stay on the primary until the replica's replay position passes the primary's position after the write).
 * A replica read that fails for any reason (down, cut, a function that writes) is retried on the primary, so a
 * replica outage never fails a request. No session state is used: both pools work behind PgBouncer in transaction mode.
 */
export function withReplica(primary: Db, replica: Db, opts: ReplicaOptions = {}): RoutedDb {
  const maxLagMs = opts.maxLagMs ?? 5000;
  const pollMs = opts.pollMs ?? 500;
  let state: ReplicaState = { readsTo: 'primary', reason: 'replica not yet checked' };
  /** increments on every write; the poll records which write the replica is known to have replayed */
  let writes = 0;
  let replayedWrites = -1;
  /** statement texts a standby refused as writing: sent to the primary from then on */
  const writingReads = new Set<string>();

  const poll = async () => {
    const seenWrites = writes;
    let p: { lsn: string } | undefined;
    // the primary down is the database check's to report (and every statement's): the replica's state stays as it was
    try { [p] = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'); } catch { return; }
    try {
      const [r] = await replica.query<{ replayed: boolean; lag_ms: number | null; standby: boolean }>(
        `SELECT pg_is_in_recovery() AS standby,
                pg_last_wal_replay_lsn() >= $1::pg_lsn AS replayed,
                CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000 END AS lag_ms`, [p!.lsn]);
      if (!r!.standby) { state = { readsTo: 'primary', reason: 'DATABASE_REPLICA_URL is not a standby' }; return; }
      const lagMs = r!.replayed ? 0 : Number(r!.lag_ms ?? Infinity);
      if (r!.replayed) replayedWrites = seenWrites;
      if (state.reason === UNREACHABLE) opts.logger?.info('DATABASE_REPLICA_URL reachable again');
      state = lagMs <= maxLagMs ? { readsTo: 'replica', lagMs } : { readsTo: 'primary', reason: `replica ${Math.round(lagMs)} ms behind (bound ${maxLagMs} ms)`, lagMs };
    } catch (err) {
      // once per outage (at start too): the poll keeps trying every pollMs, and /readyz reports it meanwhile
      if (state.reason !== UNREACHABLE) opts.logger?.warn({ err: (err as Error).message, retryMs: pollMs }, 'DATABASE_REPLICA_URL unreachable: reads go to the primary until it answers');
      state = { readsTo: 'primary', reason: UNREACHABLE, lastError: (err as Error).message };
    }
  };
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const loop = () => { void poll().finally(() => { if (!closed) timer = setTimeout(loop, pollMs).unref(); }); };
  loop();

  const readsFromReplica = (text: string, params: unknown[]) =>
    state.readsTo === 'replica' && replayedWrites >= writes && READ.test(text) && !NOT_READ.test(text)
    && !(params.length === 0 && text.includes(';')) && !writingReads.has(text);

  return {
    kind: primary.kind,
    query: async <T,>(text: string, params: unknown[] = []) => {
      if (readsFromReplica(text, params)) {
        try {
          return await replica.query<T>(text, params);
        } catch (err) {
          if ((err as { code?: string }).code !== READ_ONLY_TRANSACTION) {
            state = { readsTo: 'primary', reason: 'replica read failed', lastError: (err as Error).message };
            return primary.query<T>(text, params);
          }
          // it writes: from now on a write like any other (sent to the primary, followed by read-your-write)
          writingReads.add(text);
          try { return await primary.query<T>(text, params); } finally { writes++; }
        }
      }
      const isRead = READ.test(text) && !NOT_READ.test(text) && !writingReads.has(text);
      try { return await primary.query<T>(text, params); } finally { if (!isRead) writes++; }
    },
    transaction: async (fn) => { try { return await primary.transaction(fn); } finally { writes++; } },
    copyInto: async (table, columns, rows) => { try { await primary.copyInto(table, columns, rows); } finally { writes++; } },
    copyTextInto: async (table, columns, chunks) => { try { await primary.copyTextInto(table, columns, chunks); } finally { writes++; } },
    listen: (channel, handler) => primary.listen(channel, handler),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await Promise.all([primary.close(), replica.close()]);
    },
    replicaState: () => ({ ...state }),
  };
}

/** The readiness check of the replica: degraded (never down: the primary serves its reads) while reads bypass it. */
export function replicaCheck(db: RoutedDb): () => Promise<void | { degraded: string }> {
  return async () => {
    const s = db.replicaState();
    return s.readsTo === 'replica' ? undefined : { degraded: `reads go to the primary: ${s.reason}${s.lastError ? ` (${s.lastError})` : ''}` };
  };
}

/**
 * The process's database: the primary, routed through withReplica when `replicaUrl` is set. The replica's pool is
 * opened without waiting for it: a replica unreachable at start stays configured — the primary serves every read,
 * the poll retries it every 500 ms (warning once, naming DATABASE_REPLICA_URL), replicaCheck reports it degraded —
 * and reads move to it once it answers. Rejects when the primary (DATABASE_URL) cannot be reached.
 */
export async function openRoutedDb(opts: { databaseUrl?: string | undefined; replicaUrl?: string | undefined; dataDir: string; maxLagMs?: number; pollMs?: number; logger: Logger }): Promise<Db | RoutedDb> {
  const primary = await openDb({ databaseUrl: opts.databaseUrl, dataDir: opts.dataDir });
  if (!opts.replicaUrl) return primary;
  if (!opts.databaseUrl) throw new Error('DATABASE_REPLICA_URL needs DATABASE_URL (a replica of the embedded store does not exist)');
  const replica = await openDb({ databaseUrl: opts.replicaUrl, dataDir: opts.dataDir, probe: false });
  return withReplica(primary, replica, { logger: opts.logger, ...(opts.maxLagMs ? { maxLagMs: opts.maxLagMs } : {}), ...(opts.pollMs ? { pollMs: opts.pollMs } : {}) });
}

export const isRouted = (db: Db): db is RoutedDb => typeof (db as Partial<RoutedDb>).replicaState === 'function';
