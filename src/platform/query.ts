import { z } from 'zod';
import { HttpProblem } from './problem.ts';

/**
 * Numbers in query strings, read strictly: `z.coerce.number()` takes what JavaScript's Number() takes, so `0x10`
 * read as 16, `1e1` as 10 and ` 5` as 5. A query's number is plain decimal text, then its bounds (400 naming the
 * parameter otherwise).
 */
export function queryInt(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.string().regex(/^\d{1,15}$/, 'a whole number in decimal digits, e.g. 48').transform(Number).pipe(z.number().int().min(min).max(max));
}

/** A decimal number such as a latitude (`-122.4193`): optional sign, digits, optional fraction; then its bounds. */
export function queryDecimal(min: number, max: number) {
  return z.string().regex(/^-?\d{1,15}(\.\d{1,15})?$/, 'a decimal number such as -122.4193').transform(Number).pipe(z.number().min(min).max(max));
}

/**
 * The one check of a query's range [from, to) (grid observations, the analytics, ingest runs, fleet history and
 * telemetry), once both ends are read (isoInstant: parseable, bounded): `to` after `from` and the span at most
 * `maxMs` (`maxText` says it: "31 days"); otherwise 400 naming `to`.
 */
export function checkRange(from: Date, to: Date, maxMs: number, maxText: string): { from: Date; to: Date } {
  if (to.getTime() <= from.getTime()) throw new HttpProblem(400, `to: must be after from (${from.toISOString()})`, 'to');
  if (to.getTime() - from.getTime() > maxMs) throw new HttpProblem(400, `to: the range from ${from.toISOString()} to ${to.toISOString()} is longer than ${maxText}`, 'to');
  return { from, to };
}
