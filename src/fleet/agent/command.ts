import { FALLBACKS, type ScheduleAction, type ScheduleMessage } from '../messages.ts';

/** A fallback the agent runs outside the schedule's intervals, when it runs out, or before any schedule arrived. */
export type Fallback = (typeof FALLBACKS)[number];

/**
 * What the battery is told to do at one instant. `mode` is a schedule action or a fallback; `powerKw` is the
 * magnitude in kW (0 for idle, hold-soc and self-consumption, whose power the driver decides from SoC or the home's
 * load); `targetSoc` a percent of usable capacity. `version` is the schedule version whose interval this is (0 =
 * fallback before any schedule); `intervalIndex` is set only while an interval of that schedule runs.
 */
export interface Command {
  mode: ScheduleAction | Fallback;
  powerKw: number;
  targetSoc?: number;
  version: number;
  intervalIndex?: number;
  source: 'schedule' | 'fallback';
}

/** Milliseconds since the epoch of an interval bound; the schema guarantees ISO 8601 with an offset. */
const ms = (iso: string) => Date.parse(iso);

/**
 * The command at `atMs`: the interval of `schedule` containing it (start inclusive, end exclusive), else the
 * schedule's own fallback, else (no schedule cached) the device's configured `fallback`. Total: every instant has
 * exactly one defined command, so the agent is never a minute without one. Pure; the caller gives the time.
 */
export function commandAt(schedule: ScheduleMessage | undefined, fallback: Fallback, atMs: number): Command {
  if (!schedule) return { mode: fallback, powerKw: 0, version: 0, source: 'fallback' };
  const index = schedule.intervals.findIndex((i) => ms(i.start) <= atMs && atMs < ms(i.end));
  const interval = index >= 0 ? schedule.intervals[index] : undefined;
  if (!interval) return { mode: schedule.fallback, powerKw: 0, version: schedule.version, source: 'fallback' };
  const powerKw = interval.action === 'charge' || interval.action === 'discharge' ? (interval.powerKw ?? 0) : 0;
  return {
    mode: interval.action, powerKw, version: schedule.version, intervalIndex: index, source: 'schedule',
    ...(interval.targetSoc !== undefined ? { targetSoc: interval.targetSoc } : {}),
  };
}

/** The end of a schedule's last interval, ms since the epoch (−Infinity for an empty schedule). */
export function scheduleEnd(schedule: ScheduleMessage): number {
  return schedule.intervals.reduce((end, i) => Math.max(end, ms(i.end)), Number.NEGATIVE_INFINITY);
}

/**
 * What to do with a schedule message that arrived (over MQTT or HTTP): `accept` a version newer than both the cached
 * one and the highest acknowledged one; `duplicate` the cached version again (a retained message re-delivered on
 * reconnect, or the same version by MQTT and HTTP); `stale` anything older — never executed, so a re-published
 * old version after a broker restart cannot roll a device back.
 */
export function judgeSchedule(version: number, known: { cachedVersion: number; ackedVersion: number }): 'accept' | 'duplicate' | 'stale' {
  if (version === known.cachedVersion) return 'duplicate';
  return version > Math.max(known.cachedVersion, known.ackedVersion) ? 'accept' : 'stale';
}
