import type { Logger } from 'pino';
import { scheduleMessage, type AckMessage, type ScheduleMessage } from '../messages.ts';
import type { AgentStore } from './agent-store.ts';
import type { TraceCarrier } from '../../platform/tracing.ts';
import type { BatteryDriver } from './battery.ts';
import { commandAt, judgeSchedule, scheduleEnd, type Command, type Fallback } from './command.ts';

/** The agent's clock: ms since the epoch. Tests give a fake one to move 24 hours in seconds. */
export type Clock = () => number;

export interface AgentOptions {
  deviceId: string;
  store: AgentStore;
  driver: BatteryDriver;
  clock: Clock;
  /** What to run before the first schedule arrives (a schedule carries its own fallback afterwards). */
  fallback?: Fallback;
  /** Telemetry period, ms (default one minute). */
  telemetryEveryMs?: number;
  /** The device's power ratings, kW: a schedule asking more is refused with the interval named, never run. */
  limits?: { maxChargeKw: number; maxDischargeKw: number };
  agentVersion?: string;
  logger: Logger;
}

/** What `receive` did with a schedule message. */
export type Receipt = 'accepted' | 'duplicate' | 'stale' | 'rejected' | 'invalid';

/**
 * The battery agent's core, independent of transport: schedule messages come in through `receive` (from MQTT or
 * HTTP), `step` runs the command for the clock's now and queues acks and telemetry in the store's outbox, which the
 * links drain in `seq` order. Rules: a version is acknowledged once (de-duplicated by version); a version older than
 * one acknowledged is never run; outside the schedule the fallback runs, so there is always a defined command.
 * Ack states per version: `acknowledged` on receipt, `executing` when its first interval starts, `succeeded` (or
 * `failed` when the driver failed during it) when its last interval ends; `rejected` (with the interval) when it
 * exceeds the device's ratings (the cached older version is then dropped too: the fallback runs).
 */
export class Agent {
  readonly deviceId: string;
  private readonly o: Required<Omit<AgentOptions, 'limits'>> & Pick<AgentOptions, 'limits'>;
  private lastTelemetryMs = Number.NEGATIVE_INFINITY;
  private lastCommand: Command | undefined;
  private driverFailed = new Set<number>();
  /** Called after a message was queued, so a link can send it at once. */
  onQueued: () => void = () => {};

  constructor(options: AgentOptions) {
    this.o = { fallback: 'hold-soc', telemetryEveryMs: 60_000, agentVersion: '1', ...options };
    this.deviceId = options.deviceId;
  }

  private get log(): Logger { return this.o.logger; }

  private ack(version: number, state: AckMessage['state'], extra: { reason?: string; intervalIndex?: number } = {}, schedule?: ScheduleMessage | null, trace?: TraceCarrier): void {
    this.o.store.queueAck({ schema: 'gridpulse.ack/1', deviceId: this.deviceId, version, state, at: new Date(this.o.clock()).toISOString(), ...extra }, schedule, trace);
    this.log.info({ deviceId: this.deviceId, version, state, ...extra }, 'schedule ack queued');
    this.onQueued();
  }

  /** The highest version acknowledged and the cached one (0 = none). */
  versions(): { cachedVersion: number; ackedVersion: number } {
    return { cachedVersion: this.o.store.schedule()?.version ?? 0, ackedVersion: this.o.store.ackedVersion() };
  }

  /**
   * Takes a schedule message (parsed JSON). Never throws on bad input: an invalid message is logged and dropped.
   * `trace`: the trace context the message came with (MQTT 5 user properties); the ack answering it carries it back.
   */
  receive(raw: unknown, trace?: TraceCarrier): Receipt {
    const parsed = scheduleMessage.safeParse(raw);
    if (!parsed.success || parsed.data.deviceId !== this.deviceId) {
      this.log.warn({ deviceId: this.deviceId, issue: parsed.success ? 'another device' : parsed.error.issues[0]?.message }, 'schedule message ignored');
      return 'invalid';
    }
    const msg = parsed.data;
    const verdict = judgeSchedule(msg.version, this.versions());
    if (verdict !== 'accept') {
      if (verdict === 'stale') this.log.info({ deviceId: this.deviceId, version: msg.version, ...this.versions() }, 'older schedule version ignored');
      // the cloud re-publishes a version until it has the device's acknowledgement: an ack the broker lost (a
      // gateway subscription gap after a broker crash) is answered again, once nothing is waiting in the outbox
      if (verdict === 'duplicate' && msg.version === this.o.store.ackedVersion() && this.o.store.queued() === 0) {
        this.ack(msg.version, 'acknowledged', { reason: 'schedule delivered again: acknowledged again' }, undefined, trace);
      }
      return verdict;
    }
    const over = this.overLimit(msg);
    if (over) {
      // the older cached version is superseded in the cloud's ledger by this one: the fallback runs instead of it
      this.ack(msg.version, 'rejected', over, null, trace);
      return 'rejected';
    }
    this.ack(msg.version, 'acknowledged', {}, msg, trace);
    return 'accepted';
  }

  private overLimit(msg: ScheduleMessage): { reason: string; intervalIndex: number } | undefined {
    const limits = this.o.limits;
    if (!limits) return undefined;
    for (const [i, iv] of msg.intervals.entries()) {
      const max = iv.action === 'charge' ? limits.maxChargeKw : iv.action === 'discharge' ? limits.maxDischargeKw : Number.POSITIVE_INFINITY;
      if ((iv.powerKw ?? 0) > max) return { reason: `intervals/${i}/powerKw ${iv.powerKw} kW exceeds the device's ${max} kW`, intervalIndex: i };
    }
    return undefined;
  }

  /**
   * Runs the command for now: tells the driver when it changes (and every step, so a driver can re-assert it),
   * queues the version's `executing` / `succeeded` / `failed` acks as they fall due and telemetry every period.
   * Returns the command in force. Driver errors are logged and reported, never thrown.
   */
  async step(): Promise<Command> {
    const now = this.o.clock();
    const store = this.o.store;
    const schedule = store.schedule();
    const command = commandAt(schedule, this.o.fallback, now);
    if (!sameCommand(command, this.lastCommand)) this.log.info({ deviceId: this.deviceId, command }, 'battery command');
    this.lastCommand = command;
    try {
      await this.o.driver.apply(command);
    } catch (err) {
      this.log.error({ deviceId: this.deviceId, err: (err as Error).message, version: command.version }, 'battery driver failed');
      if (command.source === 'schedule') this.driverFailed.add(command.version);
    }
    if (schedule) this.reportProgress(schedule, command, now);
    if (now - this.lastTelemetryMs >= this.o.telemetryEveryMs) {
      this.lastTelemetryMs = now;
      try {
        const r = await this.o.driver.read();
        store.queueTelemetry({
          schema: 'gridpulse.telemetry/1', deviceId: this.deviceId, at: new Date(now).toISOString(), socPct: r.socPct, powerKw: r.powerKw,
          scheduleVersion: command.source === 'schedule' ? command.version : 0, mode: command.mode,
        });
        this.onQueued();
      } catch (err) {
        this.log.error({ deviceId: this.deviceId, err: (err as Error).message }, 'battery read failed');
      }
    }
    return command;
  }

  private reportProgress(schedule: ScheduleMessage, command: Command, now: number): void {
    const store = this.o.store;
    const v = schedule.version;
    if (command.source === 'schedule' && Number(store.get('executing_version') ?? 0) < v) {
      store.set('executing_version', String(v));
      this.ack(v, 'executing', { intervalIndex: command.intervalIndex! });
    }
    if (now >= scheduleEnd(schedule) && Number(store.get('finished_version') ?? 0) < v) {
      store.set('finished_version', String(v));
      const failed = this.driverFailed.has(v);
      this.ack(v, failed ? 'failed' : 'succeeded', failed ? { reason: 'the battery driver failed during the schedule' } : {});
    }
  }
}

const sameCommand = (a: Command, b: Command | undefined) =>
  !!b && a.mode === b.mode && a.powerKw === b.powerKw && a.targetSoc === b.targetSoc && a.version === b.version && a.intervalIndex === b.intervalIndex;
