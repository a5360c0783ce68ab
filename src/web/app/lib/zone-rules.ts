import { wallClock } from '../../../grid/local-day.ts';

/**
 * UTC offsets of the time zones the pages print times in, as the SERVER's time-zone data has them: per zone,
 * the offset changes `[utc ms from which it applies, offset in minutes]`, ascending (the first applies to
 * everything before it too, the last to everything after).
 *
 * Why: Node and the visitor's browser each carry their own copy of the IANA rules, and they disagree for some
 * zones and years (America/Winnipeg printed 03:00 on the server and 04:00 in Chromium: React error #418 on
 * hydration). So clock text is computed from ONE copy: the server derives these tables, the root loader ships
 * them with the page, and both sides format with them (lib/time.ts), never with their own Intl zone data.
 */
export type ZoneRules = Record<string, Array<[number, number]>>;

const WEEK_MS = 7 * 86_400_000;
const MINUTE_MS = 60_000;
/** Hours shown reach back to EIA-930's first year and forward to the 48-hour forecast. */
const SPAN_FROM = Date.UTC(2015, 0, 1);
const SPAN_AHEAD_MS = 400 * 86_400_000;

function intlOffsetMinutes(t: number, timeZone: string): number {
  const w = wallClock(new Date(t), timeZone);
  return Math.round((Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - Math.floor(t / MINUTE_MS) * MINUTE_MS) / MINUTE_MS);
}

/** One zone's offset changes over [from, to], from this runtime's Intl data (clock changes are weeks apart: weekly steps, then bisection to the minute). */
export function deriveZoneRules(timeZone: string, from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = [[from, intlOffsetMinutes(from, timeZone)]];
  let prev = from;
  for (let t = Math.min(from + WEEK_MS, to); ; t = Math.min(t + WEEK_MS, to)) {
    const offset = intlOffsetMinutes(t, timeZone);
    if (offset !== out.at(-1)![1]) {
      // The change lies in (prev, t]: find its first minute.
      let lo = Math.floor(prev / MINUTE_MS), hi = Math.floor(t / MINUTE_MS);
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (intlOffsetMinutes(mid * MINUTE_MS, timeZone) === offset) hi = mid; else lo = mid;
      }
      out.push([hi * MINUTE_MS, offset]);
    }
    if (t >= to) return out;
    prev = t;
  }
}

const MONTH_MS = 30 * 86_400_000;
const derived = new Map<string, { until: number; rules: Array<[number, number]> }>();

/** The rules of these zones from this runtime (memoised per zone; renewed monthly as "now" moves on). */
export function zoneRulesFor(zones: Iterable<string>, now: number): ZoneRules {
  const out: ZoneRules = {};
  for (const zone of new Set(zones)) {
    let hit = derived.get(zone);
    if (!hit || hit.until < now + SPAN_AHEAD_MS - MONTH_MS) {
      const until = now + SPAN_AHEAD_MS;
      hit = { until, rules: deriveZoneRules(zone, SPAN_FROM, until) };
      derived.set(zone, hit);
    }
    out[zone] = hit.rules;
  }
  return out;
}

/**
 * Rules as one short string for the page's data: `zone=start:offset,delta:offset…;zone=…`, instants in whole
 * minutes, the first absolute and each next one after the previous, base 36 (a dozen US zones since 2015 in
 * about 2 KB, where the nested arrays took 8 KB of serialised loader data).
 */
export function packZoneRules(rules: ZoneRules): string {
  return Object.entries(rules).map(([zone, list]) => {
    let prev = 0;
    const parts = list.map(([t, offset]) => {
      const minute = Math.floor(t / 60_000);
      const part = `${(minute - prev).toString(36)}:${offset}`;
      prev = minute;
      return part;
    });
    return `${zone}=${parts.join(',')}`;
  }).join(';');
}

export function unpackZoneRules(packed: string): ZoneRules {
  const out: ZoneRules = {};
  for (const entry of packed.split(';')) {
    const [zone, list] = entry.split('=');
    if (!zone || !list) continue;
    let minute = 0;
    out[zone] = list.split(',').map((part) => {
      const [delta, offset] = part.split(':');
      minute += parseInt(delta!, 36);
      return [minute * 60_000, Number(offset)] as [number, number];
    });
  }
  return out;
}

/** The rules the page was rendered with (the server's, shipped by the root loader). */
let adopted: ZoneRules = {};
let adoptedFrom: string | undefined;

/** Makes these (packed) rules the ones every time label uses; called while rendering the root, before any page formats a time. */
export function adoptZoneRules(packed: string | undefined): void {
  if (!packed || packed === adoptedFrom) return;
  adoptedFrom = packed;
  adopted = { ...adopted, ...unpackZoneRules(packed) };
}

/** Offset (minutes, local = UTC + offset) of `timeZone` at instant `t`: the adopted rules, else this runtime's own. */
export function offsetMinutes(t: number, timeZone: string): number {
  if (timeZone === 'UTC') return 0;
  const rules = adopted[timeZone] ?? zoneRulesFor([timeZone], Date.now())[timeZone]!;
  let lo = 0, hi = rules.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (rules[mid]![0] <= t) lo = mid; else hi = mid - 1;
  }
  return rules[lo]![1];
}
