import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Db } from './platform/db.ts';
import type { Cache } from './platform/cache.ts';
import { createHttp } from './platform/http.ts';
import { pendingMigrations } from './platform/migrate.ts';
import { gridRoutes, seriesRoutes } from './grid/routes.ts';
import { pipelineRoutes } from './ingest/routes.ts';

export interface AppDeps { db: Db; logger: Logger; cache: Cache }

/** Composition root of the web role. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = await createHttp(deps.logger);
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      const pending = await pendingMigrations(deps.db);
      if (pending.length) return reply.code(503).send({ status: 'migrations pending', pending });
      return { status: 'ready', database: deps.db.kind };
    } catch {
      return reply.code(503).send({ status: 'database unreachable' });
    }
  });
  gridRoutes(app, deps.db);
  seriesRoutes(app, deps.db);
  pipelineRoutes(app, deps.db);
  // Domain route registrations (one line each) go here.
  (await import('./ingest/data-routes.ts')).dataRoutes(app, deps.db);
  await (await import('./analytics/carbon-routes.ts')).carbonRoutes(app, deps);
  await (await import('./analytics/daily-routes.ts')).dailyRoutes(app, deps);
  await (await import('./web/server.ts')).webRoutes(app, deps);
  return app;
}
