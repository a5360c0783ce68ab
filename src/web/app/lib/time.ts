export { HOUR_MS } from '../../../grid/time.ts';
import { addDays, isCalendarDate, localDateOf, localMidnight } from '../../../grid/local-day.ts';

import { offsetMinutes } from './zone-rules.ts';

/** The UTC instant of local midnight starting `date` (YYYY-MM-DD) in `timeZone` (DST days included). */
export const zonedMidnight = localMidnight;
export { addDays };

/** The local calendar date (YYYY-MM-DD) of an instant in `timeZone`. */
export function localDate(instant: Date | string, timeZone: string): string {
  return localDateOf(new Date(instant), timeZone);
}

export const isIsoDate = (s: unknown): s is string => typeof s === 'string' && isCalendarDate(s);

/*
 * Clock text is rendered on the server and again in the browser during hydration, so it must come out the
 * same in both: the zone's offset from the rules the server shipped (zone-rules.ts), and the words from fixed
 * English patterns here, not from either runtime's locale data.
 */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const two = (n: number) => String(n).padStart(2, '0');

/** The wall clock of an instant in a zone, as a Date whose UTC fields are that wall clock. */
function wall(instant: Date | string | number, timeZone: string): Date {
  const t = new Date(instant).getTime();
  return new Date(t + offsetMinutes(t, timeZone) * 60_000);
}

/** "14:00" (24 h clock) of an instant in a zone. */
export function hourLabel(instant: Date | string | number, timeZone: string): string {
  const w = wall(instant, timeZone);
  return `${two(w.getUTCHours())}:${two(w.getUTCMinutes())}`;
}

/** "30 Nov, 14:00" of an instant in a zone. */
export function dateTimeLabel(instant: Date | string | number, timeZone: string): string {
  const w = wall(instant, timeZone);
  return `${w.getUTCDate()} ${MONTHS[w.getUTCMonth()]}, ${two(w.getUTCHours())}:${two(w.getUTCMinutes())}`;
}

/**
 * For charts (uPlot's `tzDate`): a Date whose local fields show the instant's wall clock in `timeZone`, by the
 * same shipped rules as the text beside the chart.
 */
export function chartDate(instant: number, timeZone: string): Date {
  const w = wall(instant, timeZone);
  return new Date(w.getUTCFullYear(), w.getUTCMonth(), w.getUTCDate(), w.getUTCHours(), w.getUTCMinutes());
}

/**
 * Time-axis tick labels (ms instants) in a zone: "14:00" each, and "30 Nov, 14:00" on the first tick and wherever
 * the local day changes, so a label always says the hour and the day is never left to guess (never a bare ":00").
 */
export function timeAxisLabels(ticks: readonly number[], timeZone: string): string[] {
  return ticks.map((t, i) => (i === 0 || localDate(new Date(t), timeZone) !== localDate(new Date(ticks[i - 1]!), timeZone) ? dateTimeLabel(t, timeZone) : hourLabel(t, timeZone)));
}

/** "47 min ago", "3 h ago", "2 d ago". */
export function agoLabel(minutes: number): string {
  if (minutes < 90) return `${Math.max(0, Math.round(minutes))} min ago`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h ago`;
  return `${Math.round(minutes / 1440)} d ago`;
}
