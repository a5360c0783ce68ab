import { z } from 'zod';

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
