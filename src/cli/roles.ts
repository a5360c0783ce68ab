/**
 * The long-running roles of `gridpulse` (start, web, worker): what each opens, serves and runs, and how it stops.
 * main.ts loads this module only when one of them is started, so every other command starts without it.
 */
import type { Logger } from 'pino';
import { createLogger } from '../platform/log.ts';
import type { Config } from '../platform/config.ts';
import { openRoutedDb, isRouted, replicaCheck } from '../platform/db-replica.ts';
import type { Db } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { buildApp } from '../app.ts';
import { cacheErrorCounter, openCache, type Cache } from '../platform/cache.ts';
import { attachMetrics, Metrics } from '../platform/metrics.ts';
import { metricsServer } from '../platform/http.ts';
import { armStop, DRAIN_STEP_MS } from '../platform/shutdown.ts';
import { startTracing } from '../platform/tracing.ts';
import { startFleetRuntime } from './gateway-command.ts';
import { replanJob } from '../fleet/optimizer/replan-job.ts';
import { eventReportJob } from '../openadr/event-report-job.ts';
import { startDemoFleet } from '../fleet/simulator/demo-fleet.ts';
import { remoteWorkerCommand, type RemoteWorkerOptions } from './remote-worker-command.ts';
import { startScheduler, type LastRun } from '../ingest/scheduler.ts';
import { addWorkerChecks } from '../ingest/worker-readiness.ts';
import { freshnessMetrics } from '../ingest/pipeline-freshness.ts';
import { coreReadiness } from '../platform/readiness.ts';
import { refreshForecasts } from '../analytics/forecast/forecast.ts';
import { startAlertWorker } from '../alerts/alert-worker.ts';
import type { TargetPolicy } from '../alerts/webhook-target.ts';
import { fleetEventMetrics, fleetMetrics, gatewayMetrics } from '../fleet/fleet-metrics.ts';
import { optimizerMetrics } from '../fleet/optimizer/mpc.ts';
import { egridImportMetrics } from '../egrid/import-jobs.ts';

function warnIfMetricsOpen(config: Config, logger: Logger): void {
  if (!config.METRICS_TOKEN && !['127.0.0.1', 'localhost', '::1'].includes(config.HOST)) logger.warn({ host: config.HOST }, 'METRICS_TOKEN not set: GET /metrics is readable by anyone who can reach this server');
}

/**
 * Declares the domain metrics a web or worker process may move (fleet events, optimizer solves, eGRID imports, cache errors) with every
 * label at 0, so /metrics shows them from the first scrape and the alert rules' increases see the first event.
 */
function declareDomainMetrics(metrics: Metrics): void {
  fleetEventMetrics(metrics);
  optimizerMetrics(metrics);
  egridImportMetrics(metrics);
  cacheErrorCounter(metrics);
}

const webhookPolicy = (config: Config): TargetPolicy => ({ allowPrivate: config.WEBHOOK_ALLOW_PRIVATE === '1' });

/**
 * The worker's jobs: ingestion (hourly, daily), the forecasts, and alerts (evaluated on change events) with the
 * webhook outbox (alerts' deliveries and OpenADR subscription callbacks); the first ingest and forecast run at once.
 * `stop` tells a running job to finish its batch and waits for it; the first forecast is skipped once stopping.
 */
function startWorker(config: Config, db: Db, logger: Logger, cache: Cache, metrics?: Metrics): { stop(): Promise<void>; ready: Promise<void>; lastRuns: ReadonlyMap<string, LastRun> } {
  const forecasts = (d: { db: Db; logger: Logger }) => refreshForecasts({ ...d, cache });
  const scheduler = startScheduler({ db, logger, config, ...(metrics ? { metrics } : {}) }, {}, [{ name: 'forecasts', lock: 930_003, cron: config.FORECAST_CRON, run: forecasts }, replanJob, eventReportJob]);
  if (!config.EIA_API_KEY) logger.warn('EIA_API_KEY not set: serving a SIMULATED grid (source=simulated)');
  const ready = scheduler.runNow()
    .then(() => (scheduler.signal.aborted ? undefined : forecasts({ db, logger: logger.child({ job: 'forecasts' }) })))
    .then(() => undefined, (err: unknown) => { logger.error({ err: (err as Error).message }, 'first forecast failed; the schedule retries'); });
  const alerts = startAlertWorker(db, logger, { policy: webhookPolicy(config) });
  alerts.catch((err: unknown) => logger.error({ err: (err as Error).message }, 'alert worker did not start'));
  return { stop: async () => { await scheduler.stop(); await (await alerts.catch(() => undefined))?.stop(); }, ready, lastRuns: scheduler.lastRuns };
}

/**
 * Waits for drains running side by side; rejects naming each that failed (`jobs: …; http: …`) once all settled, so
 * one failing drain neither hides another's failure nor cuts it short.
 */
async function drainAll(drains: Array<[string, Promise<unknown> | undefined]>): Promise<void> {
  const results = await Promise.allSettled(drains.map(([, p]) => p));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${drains[i]![0]}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : []));
  if (failed.length) throw new Error(failed.join('; '));
}

/** `gridpulse start` (withWorker: every role in one process) or `gridpulse web` (HTTP API and pages). */
export async function startWeb(config: Config, withWorker: boolean): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  // armed first: a stop asked for while starting waits for the start, then stops cleanly (shutdown.ts armStop)
  const stop = armStop(logger);
  const tracing = startTracing({ role: withWorker ? 'start' : 'web', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, logger });
  const db = await openRoutedDb({ databaseUrl: config.DATABASE_URL, replicaUrl: config.DATABASE_REPLICA_URL, dataDir: config.DATA_DIR, maxLagMs: config.REPLICA_MAX_LAG_MS, logger });
  const applied = await migrate(db);
  if (applied.length) logger.info({ applied }, 'migrations applied');
  const cache = await openCache(config.REDIS_URL, logger);
  const rateLimits = config.RATE_LIMITS === 'on'
    ? { read: config.RATE_LIMIT_READ, write: config.RATE_LIMIT_WRITE, auth: config.RATE_LIMIT_AUTH, redisUrl: config.REDIS_URL }
    : undefined;
  if (!rateLimits) logger.warn('RATE_LIMITS=off: no rate limits on this server');
  // the device bus: `start` runs the gateway (and, without MQTT_URL, the embedded broker); `web` publishes to MQTT_URL
  const fleet = withWorker || config.MQTT_URL ? await startFleetRuntime(config, db, logger, { gateway: withWorker }) : undefined;
  if (!fleet) logger.warn('MQTT_URL not set: `web` alone publishes no schedules (a gateway or `start` re-publishes them)');
  const app = await buildApp({
    fleet: fleet?.deps,
    db, logger, cache, trustProxy: config.TRUST_PROXY, rateLimits, publicUrl: config.PUBLIC_URL, webhookPolicy: webhookPolicy(config),
    egrid: { dataDir: config.DATA_DIR, maxUploadBytes: config.EGRID_UPLOAD_MAX_BYTES },
    auth: { alg: config.AUTH_JWT_ALG, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE },
  });
  // one registry for this process: HTTP, the analytics cache, rows written, and the worker's jobs
  attachMetrics(app.metrics, db, cache);
  freshnessMetrics(app.metrics, db);
  declareDomainMetrics(app.metrics);
  // `start` runs the gateway in this process: its fleet gauges and counters on the same /metrics (as `gridpulse gateway`)
  const gateway = withWorker ? fleet?.deviceBus.gateway : undefined;
  if (gateway) { fleetMetrics(app.metrics, db); gatewayMetrics(app.metrics, () => gateway.stats()); }
  if (isRouted(db)) app.readiness.add('replica', replicaCheck(db), { critical: false });
  app.metrics.protect(config.METRICS_TOKEN);
  warnIfMetricsOpen(config, logger);
  await app.listen({ port: config.PORT, host: config.HOST });
  const worker = withWorker ? startWorker(config, db, logger, cache, app.metrics) : undefined;
  if (worker) addWorkerChecks(app.readiness, worker.lastRuns, app.metrics);
  // Ctrl-C (armed at the top; from here on with these steps, the demo fleet's start included): the running job
  // finishes its batch while the server stops listening; a second Ctrl-C stops now
  const demo: { fleet?: Awaited<ReturnType<typeof startDemoFleet>> } = {};
  stop.started(() => [
    { name: 'demo fleet', run: () => demo.fleet?.stop() },
    // the drains run side by side: the job's batch, open HTTP and SSE requests, the gateway's batch in hand
    { name: 'drain', timeoutMs: DRAIN_STEP_MS, run: () => drainAll([['jobs', worker?.stop()], ['http', app.close()], ['fleet', fleet?.stop()]]) },
    { name: 'cache', run: () => cache.close() },
    { name: 'database', run: () => db.close() },
    { name: 'tracing', run: () => tracing?.shutdown() },
  ]);
  // `start` on the embedded broker shows a small SIMULATED fleet (DEMO_FLEET devices); never on a real broker
  demo.fleet = withWorker && fleet && !config.MQTT_URL && config.DEMO_FLEET > 0
    ? await startDemoFleet({ db, brokerUrl: fleet.deviceBus.url, dataDir: config.DATA_DIR, devices: config.DEMO_FLEET, logger })
      .catch((err: unknown) => { logger.error({ err: (err as Error).message }, 'demo fleet did not start'); return undefined; })
    : undefined;
}

/**
 * `gridpulse worker`: the scheduled jobs on the database, or with --remote (or GRIDPULSE_API_URL) an off-site worker
 * writing through the data API. Resolves once started (the remote worker's `--once` pass: its exit code).
 */
export async function workerCommand(config: Config, opts: RemoteWorkerOptions): Promise<number | undefined> {
  if (opts.remote || opts.key || config.GRIDPULSE_API_URL) {
    const stop = armStop(createLogger(config.LOG_LEVEL).child({ role: 'remote-worker' }));
    const r = await remoteWorkerCommand(config, opts);
    if (!r.stop) { stop.off(); return r.exitCode; }
    stop.started([{ name: 'jobs', timeoutMs: DRAIN_STEP_MS, run: () => r.stop!() }]);
    return undefined;
  }
  const logger = createLogger(config.LOG_LEVEL);
  const stop = armStop(logger);
  const tracing = startTracing({ role: 'worker', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, logger });
  const db = await openRoutedDb({ databaseUrl: config.DATABASE_URL, replicaUrl: config.DATABASE_REPLICA_URL, dataDir: config.DATA_DIR, maxLagMs: config.REPLICA_MAX_LAG_MS, logger });
  await migrate(db);
  const cache = await openCache(config.REDIS_URL, logger);
  // with METRICS_PORT, the worker's jobs, EIA requests and writes are scraped at :METRICS_PORT/metrics
  const metrics = config.METRICS_PORT ? new Metrics() : undefined;
  const worker = startWorker(config, db, logger, cache, metrics);
  // /healthz and /readyz ride on the metrics server: the database, the cache, the jobs' last runs, the EIA breaker
  const readiness = metrics ? addWorkerChecks(coreReadiness('worker', db, cache, metrics), worker.lastRuns, metrics) : undefined;
  if (readiness && isRouted(db)) readiness.add('replica', replicaCheck(db), { critical: false });
  const server = metrics ? await metricsServer(metrics, config.METRICS_TOKEN, readiness) : undefined;
  if (metrics) { attachMetrics(metrics, db, cache); freshnessMetrics(metrics, db); declareDomainMetrics(metrics); }
  if (server) warnIfMetricsOpen(config, logger);
  await server?.listen({ port: config.METRICS_PORT!, host: config.HOST });
  stop.started([
    { name: 'jobs', timeoutMs: DRAIN_STEP_MS, run: () => worker.stop() },
    { name: 'metrics server', run: () => server?.close() },
    { name: 'cache', run: () => cache.close() },
    { name: 'database', run: () => db.close() },
    { name: 'tracing', run: () => tracing?.shutdown() },
  ]);
  await worker.ready;
  return undefined;
}
