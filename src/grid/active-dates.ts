import type { BalancingAuthority } from './ba-repository.ts';
import { addDays, localMidnight } from './local-day.ts';
import { HOUR_MS } from './time.ts';

/**
 * The hours a BA reports to EIA-930, as UTC hour starts: from local midnight of `reportingSince` to the
 * last hour of its `retiredOn` day, both BA-local in its reporting zone (null bounds are open). The
 * retirement day itself is kept: whether EIA's date is the last day with data or the first without,
 * asking for it loses nothing and costs one day of empty answers.
 */
export function activeHours(ba: Pick<BalancingAuthority, 'timeZone' | 'reportingSince' | 'retiredOn'>): { first: Date | null; last: Date | null } {
  return {
    first: ba.reportingSince ? localMidnight(ba.reportingSince, ba.timeZone) : null,
    last: ba.retiredOn ? new Date(localMidnight(addDays(ba.retiredOn, 1), ba.timeZone).getTime() - HOUR_MS) : null,
  };
}

/**
 * The part of the hour range [from, to] (hour starts, inclusive) in which the BA reports, or undefined
 * when none is: ingestion, gap backfill and the simulated grid never ask for or make the rest.
 */
export function clipToActive(ba: Pick<BalancingAuthority, 'timeZone' | 'reportingSince' | 'retiredOn'>, from: Date, to: Date): { from: Date; to: Date } | undefined {
  const { first, last } = activeHours(ba);
  const lo = first && first > from ? first : from;
  const hi = last && last < to ? last : to;
  return lo <= hi ? { from: lo, to: hi } : undefined;
}

/** True while the BA reports at instant t. */
export function isActiveAt(ba: Pick<BalancingAuthority, 'timeZone' | 'reportingSince' | 'retiredOn'>, t: Date): boolean {
  const h = new Date(Math.floor(t.getTime() / HOUR_MS) * HOUR_MS);
  return clipToActive(ba, h, h) !== undefined;
}

/**
 * Splits a request for `codes` over [from, to] into requests that each ask only for hours in which
 * their BAs report: BAs with the same clipped range share one request; BAs not reporting at all in the
 * range are left out. Codes missing from `registry` are asked for over the whole range.
 */
export function activeRequests(codes: string[], registry: ReadonlyMap<string, BalancingAuthority>, from: Date, to: Date): Array<{ bas: string[]; from: Date; to: Date }> {
  const groups = new Map<string, { bas: string[]; from: Date; to: Date }>();
  for (const code of codes) {
    const ba = registry.get(code);
    const range = ba ? clipToActive(ba, from, to) : { from, to };
    if (!range) continue;
    const key = `${range.from.getTime()}|${range.to.getTime()}`;
    const g = groups.get(key);
    if (g) g.bas.push(code); else groups.set(key, { bas: [code], ...range });
  }
  return [...groups.values()];
}
