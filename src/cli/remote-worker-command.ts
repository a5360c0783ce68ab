import { join } from 'node:path';
import { createLogger } from '../platform/log.ts';
import { loadConfig, type Config } from '../platform/config.ts';
import { EiaClient } from '../ingest/eia-client.ts';
import { GridPulseApi } from '../ingest/remote/api-client.ts';
import { Spool } from '../ingest/remote/spool.ts';
import { RemoteIngestStore } from '../ingest/remote/remote-store.ts';
import { remoteHourlyJob, startRemoteWorker, type RemoteWorkerDeps } from '../ingest/remote/remote-worker.ts';

export interface RemoteWorkerOptions { remote?: string; key?: string; spool?: string; once?: boolean }

/** The worker's spool file: --spool, else worker-spool.sqlite in DATA_DIR. */
export function spoolPath(config: Config, opts: RemoteWorkerOptions): string {
  return opts.spool ?? join(config.DATA_DIR, 'worker-spool.sqlite');
}

/**
 * `gridpulse worker --remote URL --key KEY`: the worker role off-site. It reads EIA-930 itself and
 * talks to GridPulse only through the data API with a worker key, never to its database. With
 * --once it runs one hourly pass and exits (0 when everything was delivered, 1 otherwise);
 * without, it runs the pass at once and then on INGEST_CRON and DAILY_CRON until stopped.
 * Errors (no key, a refused key, GridPulse unreachable at start) are thrown with one clear line.
 */
export async function remoteWorkerCommand(config: Config, opts: RemoteWorkerOptions): Promise<{ exitCode: number; stop?: () => Promise<void> }> {
  const url = opts.remote ?? config.GRIDPULSE_API_URL;
  const key = opts.key ?? config.GRIDPULSE_API_KEY;
  if (!url) throw new Error('the off-site worker needs the GridPulse URL: --remote URL or GRIDPULSE_API_URL');
  if (!key) throw new Error('the off-site worker needs a worker key: --key KEY or GRIDPULSE_API_KEY (create one on the server: gridpulse keys create --kind worker)');
  if (!config.EIA_API_KEY) throw new Error('the off-site worker fetches EIA-930 itself: set EIA_API_KEY');
  // --remote and --key are checked as their environment variables are
  try { loadConfig({ GRIDPULSE_API_URL: url, GRIDPULSE_API_KEY: key }); } catch (err) {
    throw new Error(`${(err as Error).message.replace('GRIDPULSE_API_URL', '--remote (GRIDPULSE_API_URL)').replace('GRIDPULSE_API_KEY', '--key (GRIDPULSE_API_KEY)')}`, { cause: err });
  }
  const logger = createLogger(config.LOG_LEVEL).child({ role: 'remote-worker' });
  const api = new GridPulseApi({ baseUrl: url, key, logger });
  const spool = new Spool(spoolPath(config, opts));
  const store = new RemoteIngestStore(api, spool, logger);
  const client = new EiaClient({ baseUrl: config.EIA_API_URL, apiKey: config.EIA_API_KEY, logger, minIntervalMs: config.EIA_MIN_INTERVAL_MS });
  const deps: RemoteWorkerDeps = { api, store, client, logger, historyDays: config.HISTORY_DAYS };
  logger.info({ remote: url, spool: spoolPath(config, opts), ...spool.counts() }, 'off-site worker starting');
  if (opts.once) {
    try {
      await remoteHourlyJob(deps);
      return { exitCode: store.counts().queued === 0 ? 0 : 1 };
    } finally { await store.close(); spool.close(); }
  }
  // a refused key or an unreachable server at start is one clear error, not an hourly log line
  await store.flush().catch(async (err: unknown) => { await store.close(); spool.close(); throw err; });
  await api.latestRoutes().catch(async (err: unknown) => { await store.close(); spool.close(); throw err; });
  const worker = startRemoteWorker(deps, { ingest: config.INGEST_CRON, daily: config.DAILY_CRON });
  void worker.runNow();
  return { exitCode: 0, stop: async () => { await worker.stop(); spool.close(); } };
}
