import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { HttpProblem } from '../../platform/problem.ts';
import { getMarketRun, listMarketRuns } from './market-repository.ts';
import { PG_BIGINT_SAFE_MAX } from '../messages.ts';

const problem = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), field: z.string().optional() });
const num = z.number().nullable();
const summary = z.object({
  id: z.number(), market: z.string(), marketDay: z.string().describe('YYYY-MM-DD (UTC date of the first hour)'), node: z.string().nullable(), status: z.enum(['bid', 'awarded', 'dispatched', 'settled']).or(z.string()),
  devices: z.number(), createdAt: z.string(), soldMwh: z.number(), boughtMwh: z.number(),
  revenueUsd: num.describe('Σ awarded net MWh × day-ahead price (settled runs)'), imbalanceCostUsd: num.describe('Σ (awarded − delivered) × settlement price'),
  deliveredPct: num.describe('delivered / awarded, %, from the devices\' telemetry (settled runs)'),
});
const detail = summary.extend({
  bids: z.array(z.object({ hour: z.string(), side: z.string(), step: z.number(), quantityMw: z.number(), priceUsdPerMwh: z.number() })),
  hours: z.array(z.object({
    hour: z.string(), soldMw: z.number(), boughtMw: z.number(), priceUsdPerMwh: z.number().describe('the hour\'s clearing price'), dispatchedDevices: z.number(), dispatchedMw: z.number(),
    deliveredMwh: num, settlementPriceUsdPerMwh: num, revenueUsd: num, imbalanceCostUsd: num,
  })),
});
const access = { roles: ['admin', 'operator'] as const };

/** The fleet's market runs (issue 15): bids, awards, dispatch and delivery per hour; operators and administrators. */
export function marketRoutes(app: FastifyInstance, db: Db): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['markets'];
  r.get('/api/v1/markets/runs', {
    config: { access },
    schema: { tags, summary: 'The fleet\'s market runs, newest day first', querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }), response: { 200: z.object({ data: z.array(summary) }), 400: problem } },
  }, async (req) => ({ data: await listMarketRuns(db, req.query.limit) }));
  r.get('/api/v1/markets/runs/:id', {
    config: { access },
    schema: { tags, summary: 'One market run: bids, and per hour the award, the dispatch and the delivery measured from telemetry', params: z.object({ id: z.coerce.number().int().min(1).max(PG_BIGINT_SAFE_MAX) }), response: { 200: detail, 400: problem, 404: problem } },
  }, async (req) => {
    const run = await getMarketRun(db, req.params.id);
    if (!run) throw new HttpProblem(404, `id: no market run ${req.params.id}`, 'id');
    return run;
  });
}
