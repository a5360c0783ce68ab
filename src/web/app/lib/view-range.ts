import { HOUR_MS } from './time.ts';
import { badQuery } from './page-query.ts';
import { INSTANT_HINT, parseInstant } from '../../../platform/instant.ts';

/**
 * The range a page was asked for by `from` and `to` (ISO instants, as a saved view's address carries them),
 * hour-aligned and at most `maxDays` long; `undefined` when both are absent (the page then shows its default
 * range). Anything else it cannot honour — one without the other, a value that is no instant in GridPulse's
 * era, `from` not before `to`, a longer range — is a 400 page naming the field, never another range shown instead.
 */
export function askedRange(search: URLSearchParams, maxDays: number): { from: Date; to: Date } | undefined {
  const f = search.get('from');
  const t = search.get('to');
  if (f === null && t === null) return undefined;
  if (f === null) return badQuery('from', 'given with to', '');
  if (t === null) return badQuery('to', 'given with from', '');
  const pf = parseInstant(f);
  if ('error' in pf) return badQuery('from', INSTANT_HINT, f);
  const pt = parseInstant(t);
  if ('error' in pt) return badQuery('to', INSTANT_HINT, t);
  const from = Math.floor(pf.ms / HOUR_MS) * HOUR_MS;
  const to = Math.ceil(pt.ms / HOUR_MS) * HOUR_MS;
  if (!(from < to)) return badQuery('to', 'after from', t);
  if (to - from > maxDays * 24 * HOUR_MS) return badQuery('to', `at most ${maxDays} days after from`, t);
  return { from: new Date(from), to: new Date(to) };
}
