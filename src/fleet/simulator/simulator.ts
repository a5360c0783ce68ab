import type { Logger } from 'pino';
import { runAgent, type RunningAgent } from '../agent/run-agent.ts';
import type { MqttLinkOptions } from '../agent/mqtt-link.ts';
import { seeded } from '../../platform/random.ts';
import { sleep } from '../agent/backoff.ts';

/** One simulated device: its id and, on a broker with accounts, its MQTT password. */
export interface SimulatedDevice { deviceId: string; mqttPassword?: string; apiKey?: string }

export interface SimulatorOptions {
  devices: SimulatedDevice[];
  brokerUrl: string;
  /** GridPulse base URL for the agents' HTTP fallback while MQTT is down (optional). */
  apiUrl?: string;
  /** Share of devices offline at any moment, 0–1: each churn period a device drops its connection with this probability for one period. */
  offlineRate?: number;
  /** Churn period, ms (default 60 s). */
  churnMs?: number;
  /** How often every agent re-evaluates its command, ms (default 5 s; acks of a new schedule go out on receipt, not on a step). */
  stepMs?: number;
  /** Connections opened per second while starting (default 1,000), so a broker is not hit by 10,000 CONNECTs at once. */
  connectRate?: number;
  /** Seed of the SoC draws and the churn, for repeatable runs. */
  seed?: number;
  mqtt?: Partial<MqttLinkOptions>;
  logger: Logger;
  /** The agents' own logger (default `logger`); thousands of agents usually log warnings only. */
  agentLogger?: Logger;
  /** Aborted: stop starting devices (those started so far make the simulator) and stop waiting (ready). */
  signal?: AbortSignal;
}

export interface SimulatorStats { devices: number; connected: number; queued: number; versions: Record<number, number>; memoryPerDeviceKb: number }

export interface Simulator {
  agents: RunningAgent[];
  /** Resolves when every device not held offline is connected (or after `timeoutMs`, or at once when the simulator's signal is aborted), with the count connected. */
  ready(timeoutMs?: number): Promise<number>;
  stats(): SimulatorStats;
  stop(): Promise<void>;
}

/**
 * Many battery agents in one process — the simulator behind `gridpulse simulate`, the benchmarks, the fault tests and
 * the demo fleet of `npm start`. Each device is a full agent (its own in-memory SQLite store, a simulated battery
 * with a seeded initial SoC, its own real MQTT connection with a persistent session and Last Will), all stepped by
 * one timer in chunks that yield to the event loop. `offlineRate` makes devices drop their connection at random (the
 * broker then publishes their Last Will) and come back a period later. Memory per device is measured from the
 * process's heap and RSS growth while they start.
 */
export async function startSimulator(o: SimulatorOptions): Promise<Simulator> {
  const log = o.logger.child({ component: 'simulator' });
  const random = seeded(o.seed ?? 14);
  const before = process.memoryUsage();
  const agents: RunningAgent[] = [];
  const perSecond = o.connectRate ?? 1_000;
  for (const [i, d] of o.devices.entries()) {
    if (o.signal?.aborted) break;
    agents.push(runAgent({
      deviceId: d.deviceId, brokerUrl: o.brokerUrl, storePath: ':memory:', stepMs: 0, logger: o.agentLogger ?? o.logger, initialSoc: 20 + random() * 60,
      ...(d.mqttPassword ? { mqttPassword: d.mqttPassword } : {}), ...(o.apiUrl && d.apiKey ? { apiUrl: o.apiUrl, apiKey: d.apiKey } : {}),
      mqtt: { keepaliveS: 60, ...o.mqtt },
    }));
    if ((i + 1) % perSecond === 0) {
      log.info({ started: i + 1, of: o.devices.length }, 'simulated devices starting');
      await sleep(1_000, o.signal);
    }
  }
  let memoryPerDeviceKb = 0;
  const measure = () => {
    const after = process.memoryUsage();
    memoryPerDeviceKb = Math.max(after.rss - before.rss, after.heapUsed - before.heapUsed) / 1024 / Math.max(1, agents.length);
  };
  measure();

  let stepping = false;
  const stepTimer = setInterval(() => {
    if (stepping) return;
    stepping = true;
    void (async () => {
      for (let i = 0; i < agents.length; i++) {
        await agents[i]!.agent.step().catch((err: unknown) => log.error({ deviceId: agents[i]!.agent.deviceId, err: (err as Error).message }, 'agent step failed'));
        if (i % 200 === 199) await new Promise((r) => setImmediate(r));
      }
    })().finally(() => { stepping = false; });
  }, o.stepMs ?? 5_000);
  const churnMs = o.churnMs ?? 60_000;
  const churnTimer = o.offlineRate ? setInterval(() => {
    let dropped = 0;
    for (const a of agents) if (random() < o.offlineRate!) { a.mqtt?.dropFor(churnMs * (0.5 + random())); dropped++; }
    log.info({ dropped, devices: agents.length }, 'simulated devices going offline');
  }, churnMs) : undefined;

  const stats = (): SimulatorStats => {
    const versions: Record<number, number> = {};
    let connected = 0;
    let queued = 0;
    for (const a of agents) {
      if (a.mqtt?.connected) connected++;
      queued += a.store.queued();
      const v = a.store.schedule()?.version ?? 0;
      versions[v] = (versions[v] ?? 0) + 1;
    }
    return { devices: agents.length, connected, queued, versions, memoryPerDeviceKb: Math.round(memoryPerDeviceKb * 10) / 10 };
  };
  log.info({ devices: agents.length }, 'simulated fleet started');
  return {
    agents,
    stats,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      const up = () => agents.filter((a) => a.mqtt?.connected).length;
      while (up() < agents.length && Date.now() < deadline && !o.signal?.aborted) await sleep(100, o.signal);
      measure();
      log.info({ connected: up(), devices: agents.length, memoryPerDeviceKb: Math.round(memoryPerDeviceKb) }, 'simulated fleet connected');
      return up();
    },
    async stop() {
      clearInterval(stepTimer);
      clearInterval(churnTimer);
      for (let i = 0; i < agents.length; i += 500) await Promise.all(agents.slice(i, i + 500).map((a) => a.stop()));
      log.info({ devices: agents.length }, 'simulated fleet stopped');
    },
  };
}
