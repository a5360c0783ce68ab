import type { Logger } from 'pino';
import { Agent, type Clock } from './agent.ts';
import { AgentStore } from './agent-store.ts';
import { DEFAULT_BATTERY, SimulatedBattery, type BatteryDriver, type BatterySpec } from './battery.ts';
import type { Fallback } from './command.ts';
import { HttpLink, type HttpLinkOptions } from './http-link.ts';
import { MqttLink, type MqttLinkOptions } from './mqtt-link.ts';

export interface RunAgentOptions {
  deviceId: string;
  /** mqtt:// URL of the broker; absent = HTTP only. */
  brokerUrl?: string;
  mqttPassword?: string;
  /** GridPulse base URL for the HTTP fallback; absent = MQTT only. */
  apiUrl?: string;
  apiKey?: string;
  /** The SQLite file of the agent's store, or ':memory:'. */
  storePath: string;
  driver?: BatteryDriver;
  battery?: Partial<BatterySpec>;
  initialSoc?: number;
  fallback?: Fallback;
  clock?: Clock;
  /** How often the command is re-evaluated, ms (default 1 s; intervals are minute-aligned); 0 = the caller steps (the simulator). */
  stepMs?: number;
  telemetryEveryMs?: number;
  mqtt?: Partial<MqttLinkOptions>;
  /** The HTTP fallback's pacing and wait (http-link.ts; the URL and key come from apiUrl and apiKey). */
  http?: Omit<HttpLinkOptions, 'apiUrl' | 'key' | 'active'>;
  logger: Logger;
}

/** A running agent: its core, its links, and `stop` (drains nothing; the store keeps what is unsent). */
export interface RunningAgent {
  agent: Agent;
  store: AgentStore;
  mqtt?: MqttLink;
  http?: HttpLink;
  stop(): Promise<void>;
}

/**
 * Composes and starts one battery agent: the store, the driver (a simulated battery unless one is given), the core
 * stepping every `stepMs`, the MQTT link and — when an API URL is given — the HTTP fallback, polling only while MQTT
 * is down. The composition root of `gridpulse agent` and of each simulated device.
 */
export function runAgent(o: RunAgentOptions): RunningAgent {
  const clock = o.clock ?? Date.now;
  const store = new AgentStore(o.storePath);
  const spec = { ...DEFAULT_BATTERY, ...o.battery };
  const driver: BatteryDriver = o.driver ?? new SimulatedBattery(spec, clock, o.initialSoc);
  const agent = new Agent({
    deviceId: o.deviceId, store, driver, clock, logger: o.logger, limits: { maxChargeKw: spec.maxChargeKw, maxDischargeKw: spec.maxDischargeKw },
    ...(o.fallback ? { fallback: o.fallback } : {}), ...(o.telemetryEveryMs ? { telemetryEveryMs: o.telemetryEveryMs } : {}),
  });
  const mqtt = o.brokerUrl ? new MqttLink(agent, store, { ...o.mqtt, url: o.brokerUrl, ...(o.mqttPassword ? { password: o.mqttPassword } : {}) }, o.logger) : undefined;
  const http = o.apiUrl && o.apiKey
    ? new HttpLink(agent, store, { ...o.http, apiUrl: o.apiUrl, key: o.apiKey, ...(mqtt ? { active: () => !mqtt.connected } : {}) }, o.logger)
    : undefined;
  let stepping: Promise<unknown> = Promise.resolve();
  const timer = o.stepMs === 0 ? undefined : setInterval(() => {
    stepping = stepping.then(() => agent.step()).catch((err: unknown) => o.logger.error({ deviceId: o.deviceId, err: (err as Error).message }, 'agent step failed'));
  }, o.stepMs ?? 1_000);
  timer?.unref();
  mqtt?.start();
  http?.start();
  return {
    agent, store, ...(mqtt ? { mqtt } : {}), ...(http ? { http } : {}),
    async stop() {
      clearInterval(timer);
      await stepping;
      await Promise.all([mqtt?.stop(), http?.stop()]);
      await driver.close?.();
      store.close();
    },
  };
}
