import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { Cache } from '../platform/cache.ts';
import { HttpProblem } from '../platform/problem.ts';
import { analyticsKey, cachedAnswer } from './analytics-cache.ts';
import { baFreshness, SCHEDULE_SLACK_MINUTES } from './freshness.ts';

export interface DailyDeps { db: Db; cache: Cache; logger: Logger }

const code = z.object({ code: z.string().regex(/^[A-Za-z0-9]{2,6}$/, 'an EIA BA code such as CISO') });
const envelope = {
  ba: z.string().describe('EIA balancing authority code'),
  source: z.enum(['eia', 'simulated', 'external', 'mixed', 'none']).describe('where the numbers come from'),
  dataThrough: z.string().nullable().describe('start (UTC) of the newest observed hour behind the numbers'),
  generatedAt: z.string().describe('when the answer was computed'),
  stale: z.boolean().describe('true when served from cache because the database failed'),
};

const unknownBa = (raw: string) => new HttpProblem(404, `unknown balancing authority '${raw}'`, 'code');

/** Daily Pulse, baselines, duck curve, forecasts and freshness under /api/v1/bas/{code}/…, cached per BA. */
export async function dailyRoutes(app: FastifyInstance, deps: DailyDeps): Promise<void> {
  const { db, cache } = deps;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const answer = <T extends object>(req: FastifyRequest, key: string, ttl: number | ((v: T) => number), compute: () => Promise<T>) =>
    cachedAnswer(cache, key, ttl, compute, { logger: req.log });

  r.get('/api/v1/bas/:code/freshness', {
    schema: {
      summary: 'Newest hour of every series of a BA, its lag and a fresh / late / stale status',
      description: 'newest: start (UTC) of the newest hour with a non-null value. lagMinutes: minutes from the END of that hour to now '
        + '(negative for forecasts reaching into the future). expectedLagMinutes (L): EIA-930\'s usual publishing delay for the type: '
        + 'demand 60, day-ahead forecast 0 (published the day before), net generation / total interchange / generation by fuel 1440, '
        + `BA-to-BA interchange 2880. status: fresh when lag ≤ L + ${SCHEDULE_SLACK_MINUTES} (our hourly schedule's slack), `
        + `late when lag ≤ 2·(L + ${SCHEDULE_SLACK_MINUTES}), stale beyond or without data. dataThrough: newest observed (non-forecast) hour.`,
      params: code,
      response: {
        200: z.object({
          ...envelope,
          series: z.array(z.object({
            key: z.string(), type: z.string(), subtype: z.string(), newest: z.string().nullable(),
            lagMinutes: z.number().nullable(), expectedLagMinutes: z.number(), status: z.enum(['fresh', 'late', 'stale']),
          })),
        }),
      },
    },
  }, async (req) => {
    const ba = req.params.code.toUpperCase();
    // Lags move with the clock: keep the answer a minute at most.
    return answer(req, analyticsKey(ba, 'freshness'), 60, async () => {
      const f = await baFreshness(db, ba);
      if (!f) throw unknownBa(req.params.code);
      return f;
    });
  });
}
