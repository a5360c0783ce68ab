import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../../src/platform/db.ts';
import { migrate } from '../../../src/platform/migrate.ts';
import { memoryCache, type Cache } from '../../../src/platform/cache.ts';
import { buildApp } from '../../../src/app.ts';
import { listBas } from '../../../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../../../src/ingest/simulated-grid.ts';
import { refreshForecasts } from '../../../src/analytics/forecast/forecast.ts';
import type { TargetPolicy } from '../../../src/alerts/webhook-target.ts';
import type { FleetDeps } from '../../../src/fleet/fleet-routes.ts';
import { testDatabases, type TestDb } from '../../support/databases.ts';

export interface Site { url: string; app: FastifyInstance; db: Db; cache: Cache; close(): Promise<void> }

export const SITE_BAS = ['CISO', 'ERCO', 'PJM', 'BPAT'];
const FORECAST_DAYS = 22;

export interface SiteOptions {
  /** the store (testDatabases()); PGlite in memory by default */
  store?: TestDb;
  /** BAs given a simulated grid (SITE_BAS by default) */
  bas?: string[];
  /** days of simulated hours ending at the current hour (3 by default; 0: a fresh store before its first fill) */
  days?: number;
  port?: number;
  forecastFor?: string;
  webhookPolicy?: TargetPolicy;
  fleet?: FleetDeps;
  publicUrl?: string;
}

/**
 * The whole app (in-memory cache) on a migrated store, filled with a short simulated grid ending at the current
 * hour (and, for `forecastFor`, enough history for the worker's 48-hour forecast, which it then makes),
 * listening on 127.0.0.1 (`url`) and reachable in-process (`app.inject`).
 */
export async function startSite(opts: SiteOptions = {}): Promise<Site> {
  const db = await (opts.store ?? testDatabases()[0]!).open();
  await migrate(db);
  const logger = pino({ level: 'silent' });
  const wanted = new Set(opts.bas ?? SITE_BAS);
  const bas = (await listBas(db)).filter((b) => wanted.has(b.code));
  const hours = (opts.days ?? 3) * 24;
  const end = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  // days: 0 is a fresh store before its first fill
  if (hours > 0) await loadSimulatedGrid({ db, logger }, bas, new Date(end - hours * 3_600_000), hours);
  if (opts.forecastFor) {
    // The forecast model wants weeks of history: give that BA more days, then let the worker's job run once.
    const longer = FORECAST_DAYS * 24;
    const ba = (await listBas(db)).filter((b) => b.code === opts.forecastFor);
    if (longer > hours) await loadSimulatedGrid({ db, logger }, ba, new Date(end - longer * 3_600_000), longer - hours);
    await refreshForecasts({ db, logger }, { bas: [opts.forecastFor] });
  }
  const cache = memoryCache();
  const app = await buildApp({
    db, logger, cache,
    ...(opts.webhookPolicy ? { webhookPolicy: opts.webhookPolicy } : {}), ...(opts.fleet ? { fleet: opts.fleet } : {}), ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
  });
  await app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, app, db, cache, close: async () => { await app.close(); await cache.close(); await db.close(); } };
}
