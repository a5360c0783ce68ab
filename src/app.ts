import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Db } from './platform/db.ts';
import type { Cache } from './platform/cache.ts';
import { createHttp } from './platform/http.ts';
import { coreReadiness, Readiness, readinessRoute } from './platform/readiness.ts';
import { gridRoutes, seriesRoutes } from './grid/routes.ts';
import { pipelineRoutes } from './ingest/routes.ts';
import { dataRoutes } from './ingest/data-routes.ts';
import { intensityRoutes } from './analytics/intensity/intensity-routes.ts';
import { cleanWindowRoutes } from './analytics/clean-window/clean-window-routes.ts';
import { sdkRoutes } from './analytics/clean-window/sdk-routes.ts';
import { dailyRoutes } from './analytics/daily/daily-routes.ts';
import { locateRoutes } from './locate/routes.ts';
import { webRoutes } from './web/server.ts';
import { egridAnalyticsRoutes } from './egrid/egrid-analytics-routes.ts';
import { egridUploadRoutes, type EgridUploadOptions } from './egrid/upload-routes.ts';
import { registerRateLimits, type RateLimitSettings } from './auth/rate-limits.ts';
import { actorOf, audit, routeObject } from './auth/audit.ts';
import { viewRoutes } from './views/view-routes.ts';
import { alertRoutes } from './alerts/alert-routes.ts';
import { optimizerRoutes } from './fleet/optimizer/optimizer-routes.ts';
import { fleetOverviewRoutes } from './fleet/overview/fleet-overview-routes.ts';
import type { TargetPolicy } from './alerts/webhook-target.ts';
import { createAuth, type AuthOptions } from './auth/auth-runtime.ts';
import { registerAccessHook } from './auth/access-hook.ts';
import { authRoutes } from './auth/auth-routes.ts';
import { subscribeApiKeyChanges, subscribeSessionChanges } from './auth/session-sync.ts';
import { accountRoutes } from './auth/account-routes.ts';
import { adminRoutes } from './auth/admin-routes.ts';
import { openadrRoutes } from './openadr/openadr-routes.ts';
import { marketRoutes } from './fleet/markets/market-routes.ts';
import { fleetRoutes, type FleetDeps } from './fleet/fleet-routes.ts';

export interface AppDeps {
  db: Db; logger: Logger; cache: Cache; auth?: Partial<AuthOptions>;
  /** Where eGRID uploads are kept and how large they may be (absent: a temporary folder, the default limit). */
  egrid?: EgridUploadOptions;
  /** The site's public address (PUBLIC_URL): the embed and badge snippets name it; absent, the request's own origin. */
  publicUrl?: string | undefined;
  /** Reverse proxies whose X-Forwarded-For is believed (TRUST_PROXY); none by default. */
  trustProxy?: readonly string[] | undefined;
  /** Rate limits (src/auth/rate-limits.ts); `gridpulse web`/`start` always pass them, absent means none (tests, benches). */
  rateLimits?: RateLimitSettings | undefined;
  /** readiness checks for /readyz (default: coreReadiness, the database and the cache) */
  readiness?: Readiness;
  /** which webhook targets alerts may name (default: public addresses only) */
  webhookPolicy?: TargetPolicy;
  /** The fleet API's bus (publishes new schedule versions at once) and broker admin; absent, versions wait for a process with a bus. */
  fleet?: FleetDeps;
  /** Cache of anonymous visitors' rendered pages (src/web/page-cache.ts); on unless false (benches compare both). */
  pageCache?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This process's readiness checks, served at GET /readyz (add a role's own: the replica, the broker). */
    readiness: Readiness;
  }
}

/** Composition root of the web role. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { rateLimits } = deps;
  const app = await createHttp(deps.logger, {
    trustProxy: deps.trustProxy,
    // a client throttled by a budget is audited once per budget window (not once per refused request)
    guards: rateLimits ? (http) => registerRateLimits(http, rateLimits, deps.logger, (req, budget) => {
      audit(deps.db, {
        ...actorOf(req), action: 'rate.limited', outcome: 'denied',
        ...routeObject(req), detail: { budget, status: 429 },
      }).catch((err: unknown) => req.log.error({ err: (err as Error).message }, 'audit of a rate limit failed'));
    }) : undefined,
  });
  const auth = createAuth(deps.db, deps.cache, deps.auth);
  // after the rate limits' own onRequest hook (an address out of sign-in budget is refused before its
  // credentials are checked), before every route's limit (which is keyed on the principal this resolves)
  registerAccessHook(app, auth);
  const unlistenSessions = await subscribeSessionChanges(deps.db, deps.cache, deps.logger);
  const unlistenKeys = await subscribeApiKeyChanges(deps.db, deps.cache, deps.logger);
  app.addHook('onClose', async () => { await unlistenSessions(); await unlistenKeys(); });
  app.decorate('readiness', deps.readiness ?? coreReadiness('web', deps.db, deps.cache, app.metrics));
  app.get('/healthz', { schema: { hide: true }, config: { access: { public: true } } }, async () => ({ status: 'ok' }));
  readinessRoute(app, app.readiness);
  authRoutes(app, auth);
  accountRoutes(app, auth);
  adminRoutes(app, auth);
  gridRoutes(app, deps.db);
  seriesRoutes(app, deps.db);
  pipelineRoutes(app, deps.db);
  dataRoutes(app, deps.db);
  await intensityRoutes(app, deps);
  await cleanWindowRoutes(app, deps);
  await sdkRoutes(app, deps);
  await dailyRoutes(app, deps);
  locateRoutes(app, deps.db);
  await egridAnalyticsRoutes(app, deps);
  await egridUploadRoutes(app, deps);
  viewRoutes(app, deps.db);
  alertRoutes(app, deps.db, deps.webhookPolicy ?? { allowPrivate: false });
  optimizerRoutes(app, deps.db);
  openadrRoutes(app, { db: deps.db, auth, webhookPolicy: deps.webhookPolicy ?? { allowPrivate: false } });
  marketRoutes(app, deps.db);
  await fleetRoutes(app, deps.db, deps.fleet);
  fleetOverviewRoutes(app, deps.db, deps.cache);
  await webRoutes(app, deps);
  return app;
}
