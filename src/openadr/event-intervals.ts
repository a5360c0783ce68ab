import { DURATION, type IntervalPeriod, type OpenadrEvent, type ValuesMap } from './openadr-schemas.ts';

/**
 * Adds an ISO 8601 duration (the definition's pattern: PnYnMnDTnHnMnS or PnW, optionally negative) to an instant,
 * calendar fields in UTC (P1M from Jan 31 follows JavaScript's Date overflow). Throws on a malformed duration.
 */
export function addDuration(at: Date, iso: string): Date {
  const m = DURATION.exec(iso);
  if (!m) throw new Error(`not an ISO 8601 duration: ${iso}`);
  const sign = m[1] === '-' ? -1 : 1;
  const n = (i: number) => sign * Number(m[i] ?? 0);
  const d = new Date(at.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + n(2), d.getUTCMonth() + n(3));
  const days = m[5] === 'W' ? n(4) * 7 : n(4);
  d.setUTCDate(d.getUTCDate() + days);
  return new Date(d.getTime() + (n(6) * 3600 + n(7) * 60 + n(8)) * 1000);
}

/** Whether a duration is zero (PT0S, P0D …): the definition's "instantaneous or infinity, depending on payloadType". */
export const isZeroDuration = (iso: string | undefined): boolean => iso === undefined || addDuration(new Date(0), iso).getTime() === 0;

export interface ResolvedInterval { id: number; start: Date; end: Date | null; payloads: ValuesMap[] }

/**
 * The instants of an event's intervals. An interval with its own intervalPeriod uses it (its start; duration
 * from it or else the event's); the others follow the event's intervalPeriod in list order: the k-th starts at
 * start + k × duration. A zero or absent duration lasts until the next interval starts, and the last such
 * interval is open-ended (end null): a price stays in force until replaced. Intervals without any start
 * (no period anywhere) are left out.
 */
export function resolveIntervals(ev: Pick<OpenadrEvent, 'intervalPeriod' | 'intervals'>): ResolvedInterval[] {
  const base: IntervalPeriod | undefined = ev.intervalPeriod;
  const out: Array<ResolvedInterval & { open: boolean }> = [];
  ev.intervals.forEach((iv, k) => {
    let start: Date;
    let dur: string | undefined;
    if (iv.intervalPeriod) {
      start = new Date(iv.intervalPeriod.start);
      dur = iv.intervalPeriod.duration ?? base?.duration;
    } else if (base) {
      dur = base.duration;
      start = new Date(base.start);
      if (!isZeroDuration(dur)) for (let i = 0; i < k; i++) start = addDuration(start, dur!);
    } else return;
    const open = isZeroDuration(dur);
    out.push({ id: iv.id, start, end: open ? null : addDuration(start, dur!), payloads: iv.payloads, open });
  });
  const starts = out.map((o) => o.start.getTime()).sort((a, b) => a - b);
  return out.map(({ open, ...o }) => {
    if (!open) return o;
    const next = starts.find((s) => s > o.start.getTime());
    return { ...o, end: next === undefined ? null : new Date(next) };
  });
}

/** The span of an event's intervals: the first start and the last end (null: open-ended or no interval). */
export function eventSpan(ev: Pick<OpenadrEvent, 'intervalPeriod' | 'intervals'>): { startsAt: Date | null; endsAt: Date | null } {
  const ivs = resolveIntervals(ev);
  if (!ivs.length) return { startsAt: null, endsAt: null };
  const startsAt = new Date(Math.min(...ivs.map((i) => i.start.getTime())));
  const endsAt = ivs.some((i) => i.end === null) ? null : new Date(Math.max(...ivs.map((i) => i.end!.getTime())));
  return { startsAt, endsAt };
}
