import { HOUR_MS, inEra } from './time.ts';

/** One BA-local calendar day as a UTC range of hour starts: 23, 24 or 25 hours around DST changes. */
export interface LocalDay { date: string; timeZone: string; from: Date; to: Date; hours: number }

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Wall-clock fields of an instant in a zone. */
export function wallClock(t: Date, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(t)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute! };
}

/** Offset of the zone from UTC at instant t, in ms (local = UTC + offset). */
function offsetMs(t: number, timeZone: string): number {
  const w = wallClock(new Date(t), timeZone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - Math.floor(t / 60_000) * 60_000;
}

/** The UTC instant of local midnight starting `date` (US zones change clocks at 02:00, so midnight always exists). */
export function localMidnight(date: string, timeZone: string): Date {
  const guess = Date.parse(`${date}T00:00:00Z`);
  let t = guess - offsetMs(guess, timeZone);
  t = guess - offsetMs(t, timeZone);
  return new Date(t);
}

/** `YYYY-MM-DD` shifted by whole calendar days. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The same calendar date a year earlier (29 February → 28 February). */
export function sameDateLastYear(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const lastDay = new Date(Date.UTC(y - 1, m, 0)).getUTCDate();
  return `${String(y - 1).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(Math.min(d, lastDay)).padStart(2, '0')}`;
}

export function localDay(date: string, timeZone: string): LocalDay {
  const from = localMidnight(date, timeZone);
  const to = localMidnight(addDays(date, 1), timeZone);
  return { date, timeZone, from, to, hours: Math.round((to.getTime() - from.getTime()) / HOUR_MS) };
}

/** The local calendar date (`YYYY-MM-DD`) of an instant. */
export function localDateOf(t: Date, timeZone: string): string {
  const w = wallClock(t, timeZone);
  return `${String(w.year).padStart(4, '0')}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

export function localHourOf(t: Date, timeZone: string): number {
  return wallClock(t, timeZone).hour;
}

/** The newest local day that has ended by `now` (yesterday, local). */
export function latestCompleteDay(now: Date, timeZone: string): string {
  return addDays(localDateOf(now, timeZone), -1);
}

/** True for a real calendar date in `YYYY-MM-DD` inside GridPulse's era (time.ts ERA). */
export function isCalendarDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const ms = Date.parse(`${s}T00:00:00Z`);
  return inEra(ms) && new Date(ms).toISOString().startsWith(s);
}

// IANA names are ASCII letters, digits and _ + - in slash-separated parts ("America/Argentina/Buenos_Aires",
// "Etc/GMT+5"); the longest is far under 64. Anything else (markup, quotes, offsets, control characters) is refused
// before Intl sees it.
const ZONE_SYNTAX = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,3}$/;

/**
 * The canonical name of an IANA time zone this runtime knows ("asia/tokyo" → "Asia/Tokyo", "Etc/UTC" → "UTC"),
 * or undefined for anything else. Canonical names keep the set of zones (and so of cached formatters) bounded.
 * The same function runs in the browser, which compares its own zone with the stored one through it.
 */
export function canonicalZone(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length > 64 || !ZONE_SYNTAX.test(v)) return undefined;
  try {
    const zone = new Intl.DateTimeFormat('en', { timeZone: v }).resolvedOptions().timeZone;
    return ZONE_SYNTAX.test(zone) ? zone : undefined;
  } catch {
    return undefined;
  }
}
