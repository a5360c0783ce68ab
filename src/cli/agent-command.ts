import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { createLogger } from '../platform/log.ts';
import { onInterrupt } from '../platform/interrupts.ts';
import { DRAIN_STEP_MS, runShutdown } from '../platform/shutdown.ts';
import { DEVICE_ID, FALLBACKS } from '../fleet/messages.ts';
import { runAgent } from '../fleet/agent/run-agent.ts';
import { startSimulator, type SimulatedDevice } from '../fleet/simulator/simulator.ts';

export interface AgentOptions {
  deviceId: string;
  key?: string;
  mqttPassword?: string;
  broker?: string;
  api?: string;
  store?: string;
  dataDir: string;
  fallback?: string;
  capacityKwh?: string;
  powerKw?: string;
  logLevel: string;
}

const waitForInterrupt = () => new Promise<void>((resolve) => { const off = onInterrupt(() => { off(); resolve(); }); });

/**
 * `gridpulse agent`: one battery agent (what runs on each Raspberry Pi) until Ctrl-C / SIGTERM — a simulated battery
 * behind the driver interface, its store in `--store` (default DATA_DIR/agent-<id>.sqlite), schedules over MQTT
 * (`--broker`, with `--mqtt-password`) and the HTTP fallback (`--api` with the device key `--key`) while MQTT is down.
 */
export async function agentCommand(o: AgentOptions): Promise<number> {
  if (!DEVICE_ID.test(o.deviceId)) throw new Error(`--device-id: not a device id (lower-case letters, digits, hyphens): ${o.deviceId}`);
  if (!o.broker && !o.api) throw new Error('--broker or --api: the agent needs a way to reach GridPulse');
  if (o.api && !o.key) throw new Error('--key: the device\'s HTTP key (gp_…) is needed with --api');
  const fallback = o.fallback === undefined ? undefined : z.enum(FALLBACKS).parse(o.fallback, { error: () => `--fallback: one of ${FALLBACKS.join(', ')}` });
  const number = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`${name}: a positive number, got ${v}`);
    return n;
  };
  const capacityKwh = number(o.capacityKwh, '--capacity-kwh');
  const powerKw = number(o.powerKw, '--power-kw');
  const logger = createLogger(o.logLevel).child({ deviceId: o.deviceId });
  const running = runAgent({
    deviceId: o.deviceId, storePath: o.store ?? join(o.dataDir, `agent-${o.deviceId}.sqlite`), logger,
    ...(o.broker ? { brokerUrl: o.broker } : {}), ...(o.mqttPassword ? { mqttPassword: o.mqttPassword } : {}),
    ...(o.api ? { apiUrl: o.api } : {}), ...(o.key ? { apiKey: o.key } : {}), ...(fallback ? { fallback } : {}),
    battery: { ...(capacityKwh ? { capacityKwh } : {}), ...(powerKw ? { maxChargeKw: powerKw, maxDischargeKw: powerKw } : {}) },
  });
  logger.info({ broker: o.broker, api: o.api, queued: running.store.queued(), ...running.agent.versions() }, 'agent started (simulated battery)');
  await waitForInterrupt();
  // bounded and logged (shutdown.ts): a broker that never answers the disconnect does not hold the stop
  await runShutdown([{ name: 'agent', run: () => running.stop() }], logger);
  logger.info('agent stopped; unsent messages stay queued in its store');
  return 0;
}

export interface SimulateOptions {
  devices: string;
  broker: string;
  api?: string;
  offlineRate?: string;
  credentials?: string;
  prefix: string;
  logLevel: string;
}

const credentialsLine = z.object({ id: z.string().regex(DEVICE_ID), mqttPassword: z.string().optional(), apiKey: z.string().optional() });
/**
 * A device's secrets as `gridpulse devices create --json` prints them (`{id, mqttUsername, mqttPassword, apiKey}`) or as
 * the API's POST /api/v1/devices answers (`{device, credentials: {…}}`).
 */
const credentialsFile = z.array(z.union([credentialsLine, z.object({ credentials: credentialsLine }).transform((a) => a.credentials)]));

/**
 * The devices of a `--credentials` file: JSON lines or a JSON array, each item a `devices create --json` line or an
 * API create answer. Throws naming the file and the first item at fault.
 */
export function readCredentials(path: string): SimulatedDevice[] {
  const text = readFileSync(path, 'utf8').trim();
  let raw: unknown;
  try {
    raw = text.startsWith('[') ? JSON.parse(text) : text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  } catch (err) {
    throw new Error(`--credentials ${path}: not JSON lines or a JSON array (${(err as Error).message})`, { cause: err });
  }
  const parsed = credentialsFile.safeParse(raw);
  if (!parsed.success) throw new Error(`--credentials ${path}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
  return parsed.data.map((c) => ({ deviceId: c.id, ...(c.mqttPassword ? { mqttPassword: c.mqttPassword } : {}), ...(c.apiKey ? { apiKey: c.apiKey } : {}) }));
}

/**
 * `gridpulse simulate`: N simulated battery agents in this process (real MQTT connections) until Ctrl-C, printing the
 * fleet's state every 10 s. Devices come from `--credentials` (the JSON lines of `gridpulse devices create --json`, or
 * the API's create answers), or are named `<prefix>-00001…` without passwords for a broker that needs none —
 * GridPulse's own brokers (the embedded one, Mosquitto with dynamic security) refuse those. `--api` (the HTTP
 * fallback) needs devices with an `apiKey`.
 */
export async function simulateCommand(o: SimulateOptions): Promise<number> {
  const n = Number(o.devices);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`--devices: a whole number from 1 to 100000, got ${o.devices}`);
  const offlineRate = o.offlineRate === undefined ? 0 : Number(o.offlineRate);
  if (!(offlineRate >= 0 && offlineRate < 1)) throw new Error(`--offline-rate: a share from 0 to below 1, got ${o.offlineRate}`);
  const known = o.credentials ? readCredentials(o.credentials) : [];
  if (o.credentials && known.length < n) throw new Error(`--credentials ${o.credentials}: ${known.length} devices, fewer than --devices ${n}`);
  const devices: SimulatedDevice[] = o.credentials ? known.slice(0, n) : Array.from({ length: n }, (_, i) => ({ deviceId: `${o.prefix}-${String(i + 1).padStart(5, '0')}` }));
  if (o.api && !devices.some((d) => d.apiKey)) throw new Error('--api: the HTTP fallback needs each device\'s key: give --credentials with apiKey (gridpulse devices create --json)');
  const logger = createLogger(o.logLevel);
  if (!o.credentials) logger.warn({ broker: o.broker }, 'no --credentials: devices connect without a password, which only a broker that needs none accepts (GridPulse\'s embedded broker and Mosquitto with dynamic security refuse them)');
  // listened for before the fleet starts (thousands of connections take seconds): a stop asked for meanwhile stops it
  // once started, cleanly, instead of the signal's default death; every wait (the start's pacing, the wait for the
  // connections, which a broker refusing them never ends) ends at once on it
  let stopAsked = false;
  const stopping = new AbortController();
  const interrupted = waitForInterrupt().then(() => { stopAsked = true; stopping.abort(); });
  // one agent's lines would drown the fleet's: agents log warnings only
  const sim = await startSimulator({ devices, brokerUrl: o.broker, ...(o.api ? { apiUrl: o.api } : {}), offlineRate, logger, agentLogger: logger.child({}, { level: 'warn' }), signal: stopping.signal });
  const connected = await sim.ready(120_000);
  if (!stopAsked) logger.info({ connected, devices: n, memoryPerDeviceKb: sim.stats().memoryPerDeviceKb }, 'simulated fleet (SIMULATED devices) running');
  const timer = setInterval(() => logger.info(sim.stats(), 'simulated fleet'), 10_000);
  await interrupted;
  clearInterval(timer);
  await runShutdown([{ name: 'simulated fleet', timeoutMs: DRAIN_STEP_MS, run: () => sim.stop() }], logger);
  return 0;
}
