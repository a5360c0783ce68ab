import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { connectMqtt } from '../src/fleet/bus/mqtt-connect.ts';
import { pino } from 'pino';
import { buildApp } from '../src/app.ts';
import { memoryCache } from '../src/platform/cache.ts';
import type { Db } from '../src/platform/db.ts';
import { createDevice, deviceInput } from '../src/fleet/device-repository.ts';
import * as ledger from '../src/fleet/ledger.ts';
import { startGateway } from '../src/fleet/gateway/gateway.ts';
import { deviceTopic } from '../src/fleet/messages.ts';
import type { FleetBus } from '../src/fleet/contract.ts';
import { authHeaders } from '../test/support/auth.ts';
import { envInt, fmt, openEngineDb, percentile, printTable } from './support.ts';

const log = pino({ level: process.env.BENCH_LOG ?? 'warn' });

/**
 * A Mosquitto of the benchmark's own on a free port: anonymous, no ACL plugin. Device accounts are not what is
 * measured here (the ACL tests prove them), and Mosquitto 2.0's dynamic-security plugin rewrites its whole JSON file
 * on every control command, which makes provisioning 10,000 accounts take longer than the measurement.
 */
async function benchMosquitto(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gp-bench-mosquitto-'));
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((r) => probe.close(r));
  writeFileSync(path.join(dir, 'mosquitto.conf'), [
    readFileSync(new URL('../deploy/mosquitto/mosquitto.conf', import.meta.url), 'utf8').replace(/^allow_anonymous false$/m, ''),
    `listener ${port} 127.0.0.1`, 'allow_anonymous true', `log_dest file ${dir}/mosquitto.log`, ...(process.getuid?.() === 0 ? ['user root'] : []), '',
  ].join('\n'));
  const child: ChildProcess = spawn('mosquitto', ['-c', path.join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => { const s = net.connect({ port, host: '127.0.0.1' }, () => { s.destroy(); resolve(true); }); s.on('error', () => resolve(false)); });
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() { const exited = once(child, 'exit'); child.kill('SIGTERM'); await exited; rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Connects `n` plain mqtt.js clients, 500 at a time. */
async function connectMany(url: string, n: number, id: (i: number) => string): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  for (let i = 0; i < n; i += 500) {
    clients.push(...await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, j) => mqtt.connectAsync(url, { protocolVersion: 5, clientId: id(i + j), clean: true, reconnectPeriod: 0 }))));
  }
  return clients;
}

/**
 * The reference: the bare broker delivering one retained QoS 1 message to each of `n` subscribed clients, the
 * publisher sending them back to back — ms from the first publish until each client has its message.
 */
async function rawBroker(url: string, n: number): Promise<number[]> {
  const clients = await connectMany(url, n, (i) => `ref-${i}`);
  const got: number[] = [];
  let t0 = 0;
  await Promise.all(clients.map(async (c, i) => {
    c.once('message', () => { got.push(performance.now() - t0); });
    await c.subscribeAsync(`bench/ref/${i}`, { qos: 1 });
  }));
  const publisher = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'ref-publisher', reconnectPeriod: 0 });
  const payload = JSON.stringify({ schema: 'gridpulse.schedule/1', padding: 'x'.repeat(300) });
  t0 = performance.now();
  await Promise.all(clients.map((_, i) => publisher.publishAsync(`bench/ref/${i}`, payload, { qos: 1, retain: true })));
  const deadline = Date.now() + 120_000;
  while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < clients.length; i += 1_000) await Promise.all(clients.slice(i, i + 1_000).map((c) => c.endAsync(true)));
  await Promise.all(clients.map((_, i) => publisher.publishAsync(`bench/ref/${i}`, '', { qos: 1, retain: true }))); // clear the retained messages
  await publisher.endAsync();
  return got;
}

/**
 * `gridpulse simulate` in a process of its own, as devices are machines of their own: the agents do not share the
 * API's and the gateway's event loop. Resolves once it reports its fleet connected, with its memory per device.
 */
async function simulateInChild(url: string, n: number): Promise<{ connected: number; memoryPerDeviceKb: number; pid: number; stop(): Promise<void> }> {
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const child = spawn(process.execPath, [main, 'simulate', '--devices', String(n), '--broker', url, '--prefix', 'fan'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'info' } });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ connected: number; memoryPerDeviceKb: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gridpulse simulate exited with ${code} before its fleet was up`)));
    lines.on('line', (line) => {
      let o: { msg?: string; connected?: number; memoryPerDeviceKb?: number };
      try { o = JSON.parse(line); } catch { return; }
      if (o.msg === 'simulated fleet (SIMULATED devices) running') resolve({ connected: o.connected ?? 0, memoryPerDeviceKb: o.memoryPerDeviceKb ?? 0 });
    });
  });
  return {
    ...ready,
    pid: child.pid!,
    async stop() { const exited = once(child, 'exit'); child.kill('SIGTERM'); await exited; },
  };
}

/**
 * CPU time (user + system, ms) of each part of the fan-out so far, from /proc (Linux; empty elsewhere): this process
 * (API, rollout runner, publisher, gateway), the simulator, the benchmark's Mosquitto, and every PostgreSQL process.
 */
function cpuMs(pids: { sim: number; broker: number }): Record<string, number> {
  if (!existsSync('/proc/self/stat')) return {};
  const tick = 10; // ms per clock tick (USER_HZ 100 on Linux)
  const of = (pid: number | string) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * tick;
    } catch { return 0; }
  };
  let postgresMs = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try { if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('postgres')) postgresMs += of(pid); } catch { /* gone */ }
  }
  return { gridpulse: of(process.pid), simulator: of(pids.sim), mosquitto: of(pids.broker), postgresql: postgresMs };
}

async function provision(db: Db, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `fan-${String(i + 1).padStart(5, '0')}`); // `gridpulse simulate --prefix fan`'s ids
  for (let i = 0; i < n; i += 500) {
    await db.transaction(async (tx) => {
      for (const id of ids.slice(i, i + 500)) await createDevice(tx, deviceInput.parse({ id, name: `simulated ${id}` }));
    });
  }
  return ids;
}

/**
 * Fan-out of one new schedule to N simulated devices on a real Mosquitto: the whole path — POST /api/v1/schedules
 * (fleet: true; it answers 202 with the rollout id at once) → versions issued by the rollout runner and published retained QoS 1 → N agents (`gridpulse simulate` in a child process,
 * real connections) → acks →
 * the gateway's batched COPY into device_acks — p50/p99 from the API call until each device's ack is stored, beside
 * the bare broker delivering N retained QoS 1 messages to N clients in the same run. Also the agents' memory per
 * device. FANOUT_DEVICES (default 10,000); DATABASE_URL for PostgreSQL (else PGlite).
 */
export async function benchFleetFanout(): Promise<void> {
  const n = envInt('FANOUT_DEVICES', 10_000);
  const broker = await benchMosquitto();
  const { db, drop } = await openEngineDb('fanout');
  try {
    const reference = await rawBroker(broker.url, n);
    await provision(db, n);
    const { client: publisher } = await connectMqtt(broker.url, { clientId: 'bench-fleet-bus' });
    // when each device's version went to the broker: splits the path into issuing (fleet-core) and delivery + ack
    const publishedAt = new Map<string, number>();
    const bus: FleetBus = { publishSchedule: async (m) => { publishedAt.set(m.deviceId, Date.now()); await publisher.publishAsync(deviceTopic(m.deviceId, 'schedule'), JSON.stringify(m), { qos: 1, retain: true }); } };
    const app = await buildApp({ db, logger: log, cache: memoryCache(), fleet: { bus } });
    const operator = await authHeaders(app, db, 'operator');
    const gateway = await startGateway({ db, url: broker.url, credentials: { username: 'bench-gateway', password: 'x' }, sink: ledger, logger: log, clientId: 'bench-gateway' });
    const sim = await simulateInChild(broker.url, n);
    const { connected, memoryPerDeviceKb } = sim;

    const now = Date.now();
    // FANOUT_MARKS=1: the fan-out's window on the monotonic clock (µs, the clock of `node --cpu-prof` profiles), to cut CPU profiles of this process and the simulator to it
    const markUs = () => Number(process.hrtime.bigint() / 1000n);
    const startUs = markUs();
    const pids = { sim: sim.pid, broker: broker.pid };
    const cpu0 = cpuMs(pids);
    const t0Epoch = Date.now();
    const t0 = performance.now();
    const res = await app.inject({ method: 'POST', url: '/api/v1/schedules', headers: operator, payload: {
      fleet: true, rollout: { maxPerMinute: 1_000_000 },
      intervals: [{ start: new Date(now + 120_000).toISOString(), end: new Date(now + 3_720_000).toISOString(), action: 'idle' }],
    } });
    const apiMs = performance.now() - t0;
    if (res.statusCode !== 202) throw new Error(`POST /api/v1/schedules: ${res.statusCode} ${res.body}`);
    // the acks are counted while they arrive and read once at the end (received_at is stamped when stored, so the
    // reading time changes no figure): reading all of them every 200 ms took a share of the machine the fan-out needs
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const [c] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM device_acks WHERE state = 'acknowledged'`);
      if (Number(c!.n) >= n) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // received_at: the storing transaction's start (PostgreSQL now()), on this machine's clock; at: when the agent
    // acknowledged (its clock is this machine's), so the path after publishing splits into broker delivery + agent,
    // and the gateway's receipt and store
    const rows = await db.query<{ device_id: string; ms: number; at: number }>(
      `SELECT device_id, extract(epoch FROM received_at) * 1000 AS ms, extract(epoch FROM at) * 1000 AS at FROM device_acks WHERE state = 'acknowledged'`);
    const stored = rows.map((r) => Number(r.ms) - t0Epoch);
    const afterPublish = rows.map((r) => Number(r.ms) - (publishedAt.get(r.device_id) ?? Number.NaN));
    const delivered = rows.map((r) => Number(r.at) - (publishedAt.get(r.device_id) ?? Number.NaN));
    const ackToStore = rows.map((r) => Number(r.ms) - Number(r.at));
    const published = [...publishedAt.values()].map((ms) => ms - t0Epoch);
    const stats = gateway.stats();
    const cpu1 = cpuMs(pids);
    const wallMs = performance.now() - t0;
    if (process.env.FANOUT_MARKS) console.error(`fan-out window (monotonic µs): ${startUs} ${markUs()} (wall ${new Date(t0Epoch).toISOString()} ${new Date().toISOString()})`);
    await sim.stop();
    await gateway.stop();
    await app.close();
    await publisher.endAsync();

    const row = (name: string, sample: number[]) => [name, `${sample.length} / ${n}`, fmt(percentile(sample, 50)), fmt(percentile(sample, 99)), fmt(Math.max(...sample))];
    printTable(`fleet fan-out: ${n} simulated devices on Mosquitto (${connected} connected)`, ['path', 'delivered', 'p50 ms', 'p99 ms', 'max ms'], [
      row('POST /api/v1/schedules → ack stored (device_acks)', stored),
      row('… of which: API call → version published (issuing)', published),
      row('… of which: version published → ack stored', afterPublish),
      row('…… of which: published → device acknowledged (broker delivery, agent)', delivered),
      row('…… of which: device acknowledged → ack stored (gateway)', ackToStore),
      row('reference: bare broker, retained QoS 1 → client', reference),
    ]);
    console.log(`\nratio fleet/reference: p50 ${fmt(percentile(stored, 50) / percentile(reference, 50), 2)}×, p99 ${fmt(percentile(stored, 99) / percentile(reference, 99), 2)}×; `
      + `API call itself ${fmt(apiMs)} ms; acks stored ${stats.acksStored} in ${stats.batches} batches; command success ${fmt((100 * stored.length) / n, 2)} %; `
      + `agent memory ${fmt(memoryPerDeviceKb)} KiB per simulated device (the simulator's heap or RSS growth, whichever is larger)`);
    // where the machine's CPU went between the API call and the last ack counted (the count polls every 200 ms)
    if (Object.keys(cpu1).length) console.log(`CPU during the fan-out (${fmt(wallMs)} ms wall): ${Object.keys(cpu1).map((k) => `${k} ${fmt(cpu1[k]! - cpu0[k]!)} ms`).join(', ')}`);
  } finally {
    await drop();
    await db.close();
    await broker.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchFleetFanout();
