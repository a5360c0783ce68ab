import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/app.ts';
import { memoryCache } from '../../src/platform/cache.ts';
import { migrate } from '../../src/platform/migrate.ts';
import type { Db } from '../../src/platform/db.ts';
import type { TestDb } from './databases.ts';

/** A migrated database of the target and the whole app on it (silent logs, in-process cache), for app.inject tests. */
export async function openTestApp(target: TestDb): Promise<{ db: Db; app: FastifyInstance }> {
  const db = await target.open();
  await migrate(db);
  const app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache() });
  return { db, app };
}
