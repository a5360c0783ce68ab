import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { getBa, listBas } from './ba-repository.ts';

const ba = z.object({
  code: z.string(), name: z.string(), timeZone: z.string(), region: z.string(), interconnection: z.string(),
  generationOnly: z.boolean(), active: z.boolean(), retiredOn: z.string().nullable(),
});

export function gridRoutes(app: FastifyInstance, db: Db): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/bas', {
    schema: {
      summary: 'Balancing authorities reporting to EIA-930',
      querystring: z.object({ includeRetired: z.enum(['true', 'false']).optional() }),
      response: { 200: z.object({ data: z.array(ba) }) },
    },
  }, async (req) => ({ data: await listBas(db, { includeRetired: req.query.includeRetired === 'true' }) }));

  r.get('/api/v1/bas/:code', {
    schema: {
      summary: 'One balancing authority by EIA code',
      params: z.object({ code: z.string().regex(/^[A-Za-z0-9]{2,6}$/, 'an EIA BA code such as CISO') }),
      response: { 200: z.object({ data: ba }) },
    },
  }, async (req) => {
    const found = await getBa(db, req.params.code.toUpperCase());
    if (!found) throw new HttpProblem(404, `unknown balancing authority '${req.params.code}'`, 'code');
    return { data: found };
  });
}
