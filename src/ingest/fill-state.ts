import type { Db } from '../platform/db.ts';
import { HOUR_MS } from '../grid/time.ts';

/**
 * What the site says about the store while it fills: `filling` while an ingestion run is working and the newest
 * measured hour is more than FILLING_LAG_HOURS behind (the first fill, or a catch-up after a long stop); `empty`
 * before any data (the worker has not started, or a web role without one); `ready` otherwise.
 */
export type FillPhase = 'empty' | 'filling' | 'ready';

export interface FillState {
  state: FillPhase;
  filling: boolean;
  /** newest stored measured hour of any BA (start, UTC), null when none */
  dataThrough: string | null;
  /** the run that is filling: its ledger id, kind, start and the rows it has stored so far (its heartbeat) */
  run: { id: number; kind: string; startedAt: string; rowsInserted: number } | null;
  /** share of the run's range already stored (0–1) when the run names its range, else null */
  progress: number | null;
}

/** A run is filling while the newest measured hour lags now by more than this. */
export const FILLING_LAG_HOURS = 6;
/** Runs older than this are not counted as working (a process that died leaves its run 'running'). */
const LIVE_RUN_HOURS = 12;

interface RunRow { id: number; kind: string; started_at: Date | string; rows_inserted: number | null; params: Record<string, unknown> | null }

/** Reads the fill state: two small queries (the running runs; the newest measured hour only when one runs or to tell empty from ready). */
export async function fillState(db: Db, now = new Date()): Promise<FillState> {
  const runs = await db.query<RunRow>(
    `SELECT id, kind, started_at, rows_inserted, params FROM ingest_runs
      WHERE status = 'running' AND started_at > $1 AND kind IN ('simulated', 'hourly', 'backfill', 'replay', 'cli')
      ORDER BY id DESC LIMIT 1`, [new Date(now.getTime() - LIVE_RUN_HOURS * HOUR_MS)]);
  const [newest] = await db.query<{ ts: Date | string | null }>(
    `SELECT max(l.ts) AS ts FROM series s
       CROSS JOIN LATERAL (SELECT ts FROM observations WHERE series_id = s.id AND ts <= $1 ORDER BY ts DESC LIMIT 1) l
      WHERE s.type = 'demand'`, [now]);
  const through = newest?.ts ? new Date(newest.ts) : null;
  const run = runs[0];
  const params = run?.params ?? {};
  // a simulated fill stores one BA at a time, each over the whole range: it says how many BAs it has stored
  // (a fill, not the hourly pass: more hours than the lag that counts as filling)
  const byBa = typeof params.bas === 'number' && params.bas > 0 && typeof params.basDone === 'number'
    && typeof params.hours === 'number' && params.hours > FILLING_LAG_HOURS ? Math.min(1, params.basDone / params.bas) : null;
  const lagging = through === null || now.getTime() - through.getTime() > FILLING_LAG_HOURS * HOUR_MS || (byBa !== null && byBa < 1);
  const state: FillPhase = run && lagging ? 'filling' : through === null ? 'empty' : 'ready';
  let progress: number | null = null;
  if (state === 'filling' && byBa !== null) progress = byBa;
  else if (state === 'filling' && run) {
    const from = typeof params.from === 'string' ? Date.parse(params.from) : NaN;
    const hours = typeof params.hours === 'number' ? params.hours : NaN;
    if (Number.isFinite(from) && Number.isFinite(hours) && hours > 0) {
      progress = through === null || through.getTime() < from ? 0 : Math.min(1, (through.getTime() - from + HOUR_MS) / (hours * HOUR_MS));
    }
  }
  return {
    state,
    filling: state === 'filling',
    dataThrough: through?.toISOString() ?? null,
    run: state === 'filling' && run ? { id: Number(run.id), kind: run.kind, startedAt: new Date(run.started_at).toISOString(), rowsInserted: Number(run.rows_inserted ?? 0) } : null,
    progress,
  };
}

/** Answers are reused this long: every page asks, and the state changes by the hour. */
const MEMO_MS = 5_000;

const memos = new WeakMap<Db, (now?: Date) => Promise<FillState>>();

/** fillState read at most once per MEMO_MS per database, shared by every route that reports it (the site's notice asks on every page). */
export function memoFillState(db: Db): (now?: Date) => Promise<FillState> {
  const known = memos.get(db);
  if (known) return known;
  let last: { at: number; value: Promise<FillState> } | undefined;
  const memo = (now = new Date()) => {
    if (!last || Math.abs(now.getTime() - last.at) > MEMO_MS) {
      const value = fillState(db, now);
      last = { at: now.getTime(), value };
      value.catch(() => { if (last?.value === value) last = undefined; });
    }
    return last.value;
  };
  memos.set(db, memo);
  return memo;
}
