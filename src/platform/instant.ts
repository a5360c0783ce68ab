import { z } from 'zod';
import { ERA, ERA_TEXT, inEra } from '../grid/time.ts';

/**
 * The one reader of the instants the HTTP API takes (every datetime query parameter, and the datetimes of the
 * Carbon Aware SDK batch bodies), so that every endpoint reads the same text as the same instant.
 *
 * Accepted (ISO 8601 / RFC 3339, `T` and `Z` in either case):
 * - a date `2022-01-01`: UTC midnight;
 * - a date and time with its zone, `2022-03-01T15:30:00Z`, `…+01:00`, `…+0100`, seconds and a fraction optional;
 * - a date and time without a zone, `2022-05-01T14:00:00`: read as UTC. The Carbon Aware SDK's own documented
 *   examples send such times (docs/carbon-aware-webapi.md, `POST emissions/average-carbon-intensity/batch`); .NET
 *   reads them in the server's zone, which in the SDK's container image is UTC. GridPulse never reads the server's
 *   zone (JavaScript's Date.parse would), so the same request means the same instant on every machine.
 *
 * Refused, with the reason:
 * - `2022-03-01T15:30:00 01:00`: a `+` sent unencoded in a query string arrives as a space (form encoding), so
 *   the offset's sign is lost; the message says to encode it as `%2B`;
 * - impossible dates and times (2022-02-30, 25:00), dates outside GridPulse's era (time.ts ERA: the year 0000,
 *   negative and six-digit years) and anything else.
 */

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?$/;
/** A time whose offset lost its `+`: a space, then hours and minutes. */
const PLUS_AS_SPACE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)? \d{2}:?\d{2}$/;

export const INSTANT_HINT = 'an ISO 8601 date (2022-01-01, UTC) or date and time (2022-03-01T15:30:00Z, 2022-03-01T15:30:00+01:00; without a zone, UTC)';

export type ParsedInstant = { ms: number } | { error: string };

/**
 * The longest instant text GridPulse reads, anywhere (query parameters, bodies, device messages, OpenADR objects):
 * `2022-03-01T15:30:00.123456789+01:00` is 35 characters; nanoseconds with an offset is as precise as any clock
 * sends. Longer text (a 10 kB fraction) is refused before any parsing.
 */
export const MAX_INSTANT_LENGTH = 35;
/**
 * The largest UTC offset, minutes: ±14:00 (Line Islands, +14:00; the furthest west is −12:00). RFC 3339's grammar
 * allows up to 23:59, but no zone has one and PostgreSQL refuses displacements from 16 hours.
 */
export const MAX_OFFSET_MINUTES = 14 * 60;
const OFFSET = /([+-])(\d{2}):(\d{2})$/;
/** Whether an offset of `hours`:`minutes` is one GridPulse reads (at most ±MAX_OFFSET_MINUTES; parseInstant and zonedInstant). */
const offsetAllowed = (hours: number, minutes: number) => minutes <= 59 && hours * 60 + minutes <= MAX_OFFSET_MINUTES;
const TOO_LONG = `at most ${MAX_INSTANT_LENGTH} characters (e.g. 2022-03-01T15:30:00.123456789+01:00)`;

/** Parses one instant as described above: epoch milliseconds, or why the text is not one. */
export function parseInstant(text: string): ParsedInstant {
  if (text.length > MAX_INSTANT_LENGTH) return { error: `an instant of ${TOO_LONG}` };
  if (PLUS_AS_SPACE.test(text)) {
    return { error: `'${text}' has a space where its offset's sign should be: a '+' in a query string must be sent encoded as %2B (e.g. 2022-03-01T15:30:00%2B01:00), a bare '+' means a space` };
  }
  const m = INSTANT.exec(text);
  if (!m) return { error: `'${text}' is not ${INSTANT_HINT}` };
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const outside = { error: `'${text}' is outside the dates GridPulse answers about (${ERA_TEXT})` };
  // Date.UTC reads the years 0–99 as 1900–1999: out-of-era years are refused before any date arithmetic
  if (year! < new Date(ERA.from).getUTCFullYear() - 1 || year! > new Date(ERA.to).getUTCFullYear()) return outside;
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const wall = Date.UTC(year!, month! - 1, day!, hour, minute, second, millis);
  const check = new Date(wall);
  // Date.UTC rolls 2022-02-30 over into March and 24:00 into the next day: such text names no instant.
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month! - 1 || check.getUTCDate() !== day || check.getUTCHours() !== hour
    || minute > 59 || second > 59) {
    return { error: `'${text}' is not a valid date and time` };
  }
  const sign = m[9];
  let ms = wall;
  if (sign !== undefined) {
    const offsetHours = Number(m[10]), offsetMinutes = Number(m[11]);
    if (!offsetAllowed(offsetHours, offsetMinutes)) return { error: `'${text}' has an impossible UTC offset (at most ±14:00)` };
    ms -= (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  return inEra(ms) ? { ms } : outside;
}

/**
 * An instant as a zod schema for query strings and bodies: the text is checked by parseInstant and replaced by
 * its canonical UTC form (`2022-03-01T14:30:00.000Z`), so code behind it may use `new Date(s)` safely.
 */
export const isoInstant = z.string().transform((text, ctx) => {
  const parsed = parseInstant(text);
  if ('error' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  }
  return new Date(parsed.ms).toISOString();
}).describe(INSTANT_HINT);

/** The years an instant may name: [from, to) in epoch milliseconds, and how a refusal says it. */
export interface InstantRange { from: number; to: number; text: string }
export const ERA_RANGE: InstantRange = { from: ERA.from, to: ERA.to, text: ERA_TEXT };

/**
 * An instant as machines send it, in bodies and device messages (schedule intervals, acks, telemetry, OpenADR
 * objects): RFC 3339 with its zone (`2022-03-01T15:30:00Z`, `…+01:00`; seconds required, a fraction optional), at
 * most MAX_INSTANT_LENGTH characters, inside `range` (GridPulse's era by default). A validator only (the text is
 * kept as sent, so the schema also describes responses); whoever stores it stores `new Date(s).toISOString()`.
 * Every text it accepts is an instant JavaScript's Date and PostgreSQL's timestamptz both hold.
 */
export function zonedInstant(range: InstantRange = ERA_RANGE) {
  // each refusal aborts: no later check, and no refinement of an enclosing object, sees text that is not an instant
  return z.iso.datetime({ offset: true, abort: true })
    .max(MAX_INSTANT_LENGTH, { message: TOO_LONG, abort: true })
    // JavaScript's Date.parse misreads a fraction of 10 or more digits (…21.0933724497Z as …21.933Z): nanoseconds at most
    .refine((text) => !/\.\d{10}/.test(text), { message: 'a fraction of a second of at most 9 digits (nanoseconds)', abort: true })
    .refine((text) => { const m = OFFSET.exec(text); return !m || offsetAllowed(Number(m[2]), Number(m[3])); }, { message: 'a UTC offset of at most ±14:00', abort: true })
    .refine((text) => { const ms = Date.parse(text); return ms >= range.from && ms < range.to; }, { message: `must be an instant ${range.text}`, abort: true });
}
