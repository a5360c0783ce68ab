import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Cache } from '../../platform/cache.ts';
import { HttpProblem } from '../../platform/problem.ts';
import { checkRange } from '../../platform/query.ts';
import { cachedAnswer, dataTtlSeconds, type Ttl } from './analytics-cache.ts';
import { expectedLagMinutes } from './freshness.ts';
import { HOUR_MS } from './hourly.ts';

/** Schemas, errors and helpers the analytics route plugins share. */

const DAY_MS = 86_400_000;

export const codeParams = z.object({ code: z.string().regex(/^[A-Za-z0-9]{2,6}$/, 'an EIA BA code such as CISO') });
export { isoInstant } from '../../platform/instant.ts';
export const nullableNumber = z.number().nullable();
export const source = z.enum(['eia', 'simulated', 'external', 'mixed', 'none']).describe('where the numbers come from');
/** The fields every public analytics answer carries. */
export const envelope = {
  ba: z.string().describe('EIA balancing authority code'),
  source,
  dataThrough: z.string().nullable().describe('start (UTC) of the newest observed hour behind the numbers'),
  generatedAt: z.string().describe('when the answer was computed'),
  stale: z.boolean().describe('true when served from cache because the database failed'),
};

/** An instant as ISO text, or null. */
export const iso = (d: Date | null) => d?.toISOString() ?? null;
/** A range as part of a cache key. */
export const rangeKey = (r: { from: Date; to: Date }) => `${r.from.toISOString()}:${r.to.toISOString()}`;
export const unknownBa = (raw: string) => new HttpProblem(404, `unknown balancing authority '${raw}'`, 'code');

/** `compute()` through the cache (see cachedAnswer), logging on the request's logger. */
export const routeAnswer = (cache: Cache) => <T extends object>(req: FastifyRequest, key: string, ttl: Ttl<T>, compute: () => Promise<T>) =>
  cachedAnswer(cache, key, ttl, compute, { logger: req.log });

/** The shared, spreadsheet-safe CSV writer (src/platform/csv.ts). */
export { toCsv } from '../../platform/csv.ts';

export function sendCsv(reply: FastifyReply, name: string, body: string) {
  return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(body);
}

/** [from, to) from the query, defaulting to the `defaultHours` ending at the next hour boundary; bounded. */
export function rangeOf(q: { from?: string | undefined; to?: string | undefined }, maxDays: number, defaultHours = 48, now = Date.now()): { from: Date; to: Date } {
  const to = q.to ? new Date(q.to) : new Date(Math.ceil(now / HOUR_MS) * HOUR_MS);
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - defaultHours * HOUR_MS);
  return checkRange(from, to, maxDays * DAY_MS, `${maxDays} days`);
}

/**
 * Carbon answers stand on generation by fuel: they stay fresh until its next hour is due (EIA's usual
 * generation delay after the newest hour); a change event drops them earlier when it arrives sooner.
 */
export function generationTtl(dataThrough: string | null, to?: Date): number {
  return dataTtlSeconds({ dataThrough, to, lagMinutes: expectedLagMinutes('generation_by_fuel') });
}
