import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { Config } from '../platform/config.ts';
import { listBas } from '../grid/ba-repository.ts';
import { EiaClient } from './eia-client.ts';
import { ingestRange } from './ingest-range.ts';
import { loadSimulatedGrid } from './simulated-grid.ts';

const HOUR = 3_600_000;
/** EIA revises recent hours: every incremental run re-reads this far back. */
export const REVISION_WINDOW_HOURS = 48;
const SIMULATED_HISTORY_DAYS = 14;

/** Runs fn only in the process that wins a transaction-scoped advisory lock, so N workers run a job once. */
export async function runOnce(db: Db, lockKey: number, fn: () => Promise<void>): Promise<boolean> {
  // A session lock would outlive a crashed job on a pooled connection; the try-lock only elects a runner.
  const [row] = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [lockKey]);
  if (!row?.ok) return false;
  try { await fn(); } finally { await db.query('SELECT pg_advisory_unlock($1)', [lockKey]); }
  return true;
}

/** One incremental pass: EIA from each BA's newest hour minus the revision window, or the simulated grid up to now. */
export async function incrementalIngest(deps: { db: Db; logger: Logger; config: Config }, now = new Date()): Promise<void> {
  const { db, logger, config } = deps;
  const lastHour = new Date(Math.floor(now.getTime() / HOUR) * HOUR - HOUR);
  const [newest] = await db.query<{ ts: Date | string | null }>(`SELECT max(ts) AS ts FROM latest_observations WHERE source = $1`, [config.EIA_API_KEY ? 'eia' : 'simulated']);
  const fallback = lastHour.getTime() - SIMULATED_HISTORY_DAYS * 24 * HOUR;
  const since = newest?.ts ? Math.max(fallback, new Date(newest.ts).getTime() - REVISION_WINDOW_HOURS * HOUR) : fallback;
  const bas = await listBas(db);
  if (config.EIA_API_KEY) {
    const client = new EiaClient({ baseUrl: config.EIA_API_URL, apiKey: config.EIA_API_KEY, logger });
    await ingestRange({ db, client, logger }, { bas: bas.map((b) => b.code), from: new Date(since), to: lastHour, routes: ['region', 'fuel', 'interchange'], kind: 'hourly' });
    return;
  }
  const from = newest?.ts ? new Date(newest.ts).getTime() + HOUR : fallback;
  const hours = Math.floor((lastHour.getTime() - from) / HOUR) + 1;
  if (hours <= 0) return;
  const t = await loadSimulatedGrid({ db, logger }, bas, new Date(from), hours);
  logger.info({ runId: t.runId, hours, inserted: t.inserted }, 'simulated grid extended');
}

/** The worker role: the hourly job at :15 (cron configurable), run once across processes. */
export function startScheduler(deps: { db: Db; logger: Logger; config: Config }, cron = '15 * * * *'): { stop(): void; runNow(): Promise<void> } {
  const logger = deps.logger.child({ job: 'hourly-ingest' });
  const run = async () => {
    try {
      await runOnce(deps.db, 930_001, () => incrementalIngest({ ...deps, logger }));
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'hourly ingest failed; next run will retry');
    }
  };
  const job = new Cron(cron, { protect: true }, run);
  return { stop: () => job.stop(), runNow: run };
}
