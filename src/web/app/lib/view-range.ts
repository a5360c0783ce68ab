import { HOUR_MS } from './time.ts';

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;

/**
 * The range a page was asked for by `from` and `to` (UTC ISO instants, as a saved view's address carries
 * them), hour-aligned and at most `maxDays` long; `undefined` when absent or unusable (the page then shows
 * its default range).
 */
export function askedRange(search: URLSearchParams, maxDays: number): { from: Date; to: Date } | undefined {
  const f = search.get('from');
  const t = search.get('to');
  if (!f || !t || !INSTANT.test(f) || !INSTANT.test(t)) return undefined;
  const from = Math.floor(Date.parse(f) / HOUR_MS) * HOUR_MS;
  const to = Math.ceil(Date.parse(t) / HOUR_MS) * HOUR_MS;
  if (!(from < to) || to - from > maxDays * 24 * HOUR_MS) return undefined;
  return { from: new Date(from), to: new Date(to) };
}
