import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { listRuns } from './run-ledger.ts';

export function pipelineRoutes(app: FastifyInstance, db: Db): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/pipeline/runs', {
    schema: {
      summary: 'Ingestion run ledger, newest first: rows fetched/inserted/updated/rejected, requests, retries, errors',
      querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
    },
  }, async (req) => ({ data: await listRuns(db, req.query.limit) }));

  r.get('/api/v1/pipeline/freshness', {
    schema: { summary: 'Newest stored hour per BA and series type, with its lag in minutes' },
  }, async () => {
    const rows = await db.query<{ ba: string; type: string; newest: Date | string }>(
      `SELECT ba_code AS ba, type, max(ts) AS newest FROM latest_observations GROUP BY ba_code, type ORDER BY ba_code, type`);
    const now = Date.now();
    return { data: rows.map((r) => ({ ba: r.ba, type: r.type, newest: new Date(r.newest).toISOString(), lagMinutes: Math.round((now - new Date(r.newest).getTime()) / 60_000) })) };
  });
}
