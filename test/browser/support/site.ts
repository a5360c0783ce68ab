import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { openDb, type Db } from '../../../src/platform/db.ts';
import { migrate } from '../../../src/platform/migrate.ts';
import { memoryCache } from '../../../src/platform/cache.ts';
import { buildApp } from '../../../src/app.ts';
import { listBas } from '../../../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../../../src/ingest/simulated-grid.ts';

export interface Site { url: string; app: FastifyInstance; db: Db; close(): Promise<void> }

export const SITE_BAS = ['CISO', 'ERCO', 'PJM', 'BPAT'];

/** The whole app on PGlite in memory, filled with a short simulated grid ending at the current hour. */
export async function startSite(opts: { bas?: string[]; days?: number; port?: number } = {}): Promise<Site> {
  const db = await openDb({ dataDir: ':memory:' });
  await migrate(db);
  const logger = pino({ level: 'silent' });
  const wanted = new Set(opts.bas ?? SITE_BAS);
  const bas = (await listBas(db)).filter((b) => wanted.has(b.code));
  const hours = (opts.days ?? 3) * 24;
  const end = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  await loadSimulatedGrid({ db, logger }, bas, new Date(end - hours * 3_600_000), hours);
  const cache = memoryCache();
  const app = await buildApp({ db, logger, cache });
  await app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, app, db, close: async () => { await app.close(); await cache.close(); await db.close(); } };
}
