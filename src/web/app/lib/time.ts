export { HOUR_MS } from '../../../grid/time.ts';
import { addDays, isCalendarDate, localDateOf, localMidnight } from '../../../grid/local-day.ts';

// Building an Intl.DateTimeFormat costs far more than formatting with one: keep one per zone and style.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(kind: string, timeZone: string, options: Intl.DateTimeFormatOptions, locale = 'en-GB'): Intl.DateTimeFormat {
  const key = `${kind}|${timeZone}`;
  let f = formatters.get(key);
  if (!f) formatters.set(key, (f = new Intl.DateTimeFormat(locale, { ...options, timeZone })));
  return f;
}

/** The UTC instant of local midnight starting `date` (YYYY-MM-DD) in `timeZone` (DST days included). */
export const zonedMidnight = localMidnight;
export { addDays };

/** The local calendar date (YYYY-MM-DD) of an instant in `timeZone`. */
export function localDate(instant: Date | string, timeZone: string): string {
  return localDateOf(new Date(instant), timeZone);
}

export const isIsoDate = (s: unknown): s is string => typeof s === 'string' && isCalendarDate(s);

/** "14:00" (24 h clock) of an instant in a zone. */
export function hourLabel(instant: Date | string | number, timeZone: string): string {
  return formatter('hour', timeZone, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(instant));
}

export function dateTimeLabel(instant: Date | string | number, timeZone: string): string {
  return formatter('datetime', timeZone, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(instant));
}

/** "47 min ago", "3 h ago", "2 d ago". */
export function agoLabel(minutes: number): string {
  if (minutes < 90) return `${Math.max(0, Math.round(minutes))} min ago`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h ago`;
  return `${Math.round(minutes / 1440)} d ago`;
}
