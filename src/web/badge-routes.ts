import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpProblem } from '../platform/problem.ts';
import type { WebContext } from './app/lib/context.ts';
import { badgeIntensity, badgeSvg, type BadgeNow } from './badge.ts';

interface NowAnswer extends BadgeNow { freshness?: { status: 'fresh' | 'late' | 'stale' | 'retired' } }

/** GET /badge/{code}.svg: a live SVG badge of a BA's consumption carbon intensity, cached five minutes. */
export function badgeRoutes(app: FastifyInstance, reference: WebContext['reference'], api: WebContext['api']): void {
  app.withTypeProvider<ZodTypeProvider>().get('/badge/:file', {
    config: { access: { public: true } },
    schema: {
      hide: true,
      params: z.object({ file: z.string().regex(/^[A-Za-z0-9]{2,6}\.svg$/, 'a BA code followed by .svg, such as CISO.svg') }),
    },
  }, async (req, reply) => {
    const code = req.params.file.slice(0, -4).toUpperCase();
    const ba = await reference<{ data: { code: string } }>(`/api/v1/bas/${code}`);
    if (!ba.ok) throw new HttpProblem(404, `unknown balancing authority '${code}'`, 'code');
    const now = await api<NowAnswer>(`/api/v1/bas/${code}/now`);
    const intensity = now.ok ? badgeIntensity(now.data) : null;
    const status = now.ok ? (now.data.freshness?.status ?? 'unknown') : 'unknown';
    return reply.type('image/svg+xml; charset=utf-8').header('cache-control', 'public, max-age=300').send(badgeSvg(code, intensity, status));
  });
}
