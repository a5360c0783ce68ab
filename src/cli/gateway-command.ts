import type { Logger } from 'pino';
import type { Config } from '../platform/config.ts';
import type { Db } from '../platform/db.ts';
import { createLogger } from '../platform/log.ts';
import { openDb } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { armStop, DRAIN_STEP_MS } from '../platform/shutdown.ts';
import { attachMetrics, Metrics } from '../platform/metrics.ts';
import { fleetEventMetrics, fleetMetrics, gatewayMetrics } from '../fleet/fleet-metrics.ts';
import { metricsServer } from '../platform/http.ts';
import { Readiness, databaseCheck } from '../platform/readiness.ts';
import { startTracing } from '../platform/tracing.ts';
import { startDeviceBus, type DeviceBus } from '../fleet/bus/device-bus.ts';
import { DynsecAdmin } from '../fleet/bus/dynsec-admin.ts';
import { startFleetLoops, type FleetLoops } from '../fleet/fleet-loops.ts';
import { httpFallbackSinks } from '../fleet/gateway/ingest-writer.ts';
import type { FleetDeps } from '../fleet/fleet-routes.ts';

/** The fleet side of a process: its device bus, the fleet loops on it, and what the web role's fleet API needs. */
export interface FleetRuntime { deviceBus: DeviceBus; loops: FleetLoops; deps: FleetDeps; stop(): Promise<void> }

/**
 * Starts the device bus of a process (device-bus.ts: MQTT_URL or the embedded broker; with `gateway` the gateway
 * role) and fleet-core's loops on it (rollouts, re-publishing, timeouts; safe in many copies). `stop` is graceful:
 * the loops finish their round, the gateway writes and confirms what it holds, then the connections close.
 */
export async function startFleetRuntime(config: Config, db: Db, logger: Logger, opts: { gateway: boolean }): Promise<FleetRuntime> {
  const deviceBus = await startDeviceBus(config, db, logger, opts);
  const loops = startFleetLoops(db, deviceBus.bus, logger);
  return {
    deviceBus, loops,
    deps: { bus: deviceBus.bus, brokerAdmin: deviceBus.brokerAdmin, ...httpFallbackSinks(db) },
    stop: async () => { await loops.stop(); await deviceBus.close(); },
  };
}

/**
 * `gridpulse gateway`: the gateway role alone (the MQTT side of the fleet). Consumes every device's acks,
 * telemetry and status through MQTT 5 shared subscriptions (run N copies, each with its own MQTT_GATEWAY_ID),
 * writes them in COPY batches, and runs the fleet loops. Without MQTT_URL it also runs the embedded broker.
 * Ctrl-C or SIGTERM: leaves the shared subscriptions (the other copies get the group's messages from then on),
 * writes and confirms what it holds and what still arrives, ends its broker session, then exits 0. Killed
 * (SIGKILL), its session keeps queueing for the next start under the same MQTT_GATEWAY_ID.
 */
export async function gatewayCommand(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL).child({ role: 'gateway' });
  // armed first: a stop asked for while starting waits for the start, then stops cleanly (shutdown.ts armStop)
  const stop = armStop(logger);
  const tracing = startTracing({ role: 'gateway', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, logger });
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(db);
    const fleet = await startFleetRuntime(config, db, logger, { gateway: true });
    // with METRICS_PORT: /metrics, /healthz (process) and /readyz (database, broker) on that port
    const metrics = config.METRICS_PORT ? new Metrics() : undefined;
    // the gateway's own counters and histograms (rejections by reason, ack latency) reach this registry through the db
    if (metrics) { attachMetrics(metrics, db); fleetEventMetrics(metrics); }
    const server = metrics ? await metricsServer(metrics, config.METRICS_TOKEN, gatewayReadiness(db, fleet.deviceBus, metrics)) : undefined;
    if (metrics) {
      fleetMetrics(metrics, db);
      const gateway = fleet.deviceBus.gateway;
      if (gateway) gatewayMetrics(metrics, () => gateway.stats());
    }
    await server?.listen({ port: config.METRICS_PORT!, host: config.HOST });
    logger.info({ broker: fleet.deviceBus.url, clientId: fleet.deviceBus.gateway?.clientId, metricsPort: config.METRICS_PORT }, 'gateway running');
    // graceful: the batch in hand is written and confirmed, MQTT closes cleanly, then the spans are flushed; each step
    // bounded and best-effort (shutdown.ts)
    stop.started([
      { name: 'fleet', timeoutMs: DRAIN_STEP_MS, run: () => fleet.stop() },
      { name: 'metrics server', run: () => server?.close() },
      { name: 'database', run: () => db.close() },
      { name: 'tracing', run: () => tracing?.shutdown() },
    ]);
  } catch (err) {
    stop.off();
    await db.close();
    throw err;
  }
}

/**
 * The gateway's readiness (GET /readyz): `database` (critical: reachable, migrations applied) and `broker`
 * (critical: the gateway's MQTT connection is up; while it reconnects the gateway takes no messages, so the
 * copy is reported down, naming the broker). Without a gateway on the bus (no role) only the database is checked.
 */
export function gatewayReadiness(db: Db, deviceBus: Pick<DeviceBus, 'gateway' | 'url'>, metrics?: Metrics): Readiness {
  const readiness = new Readiness('gateway', metrics, { database: db.kind }).add('database', databaseCheck(db));
  const gateway = deviceBus.gateway;
  if (gateway) {
    readiness.add('broker', async () => {
      if (!gateway.connected()) throw new Error(`MQTT broker ${redactUrl(deviceBus.url)} unreachable: the gateway is reconnecting`);
    });
  }
  return readiness;
}

const redactUrl = (url: string) => { try { const u = new URL(url); u.password = ''; u.username = ''; return u.toString(); } catch { return 'MQTT_URL'; } };

/** The broker admin for `gridpulse devices create` (Mosquitto dynsec from MQTT_URL and the admin account), or none. */
export async function cliBrokerAdmin(config: Config): Promise<DynsecAdmin | undefined> {
  if (!config.MQTT_URL || !config.MQTT_ADMIN_USERNAME || !config.MQTT_ADMIN_PASSWORD) return undefined;
  return DynsecAdmin.connect(config.MQTT_URL, { username: config.MQTT_ADMIN_USERNAME, password: config.MQTT_ADMIN_PASSWORD }, createLogger('silent'));
}
