import { pino } from 'pino';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadConfig } from '../src/platform/config.ts';
import { incrementalIngest } from '../src/ingest/scheduler.ts';
import { loadSimulatedGrid, simulatedRoutes } from '../src/ingest/simulated-grid.ts';
import { envInt, fmt, openEngineDb, printTable, timed } from './support.ts';

const HOUR = 3_600_000;

/**
 * The first fill of the simulated grid as the hourly job runs it (planned per BA and route from what is stored,
 * one transaction and one event-loop turn per BA, a heartbeat per BA), against the reference: the same hours of
 * the same BAs stored by one plain loadSimulatedGrid call. Then the pass after a crash that left half the BAs
 * empty, against storing those BAs directly. FILL_DAYS (default 7) days; PGlite in memory, or DATABASE_URL.
 */
export async function benchFill(): Promise<void> {
  const days = envInt('FILL_DAYS', 7);
  const logger = pino({ level: 'warn' });
  const config = loadConfig({ HISTORY_DAYS: String(days), LOG_LEVEL: 'warn' });
  const now = new Date(Math.floor(Date.now() / HOUR) * HOUR + 30 * 60_000);
  const lastHour = new Date(now.getTime() - 30 * 60_000 - HOUR);
  const from = new Date(lastHour.getTime() - days * 24 * HOUR);
  const hours = days * 24 + 1;
  const rows: (string | number)[][] = [];

  const ref = await openEngineDb('bench_fill_ref');
  const bas = await listBas(ref.db);
  const expected = simulatedRoutes(bas, lastHour);
  const reference = await timed(() => loadSimulatedGrid({ db: ref.db, logger }, bas, from, hours, { only: expected }));
  await ref.drop();
  const work = await openEngineDb('bench_fill_work');
  const fill = await timed(() => incrementalIngest({ db: work.db, logger, config }, now));
  const idle = await timed(() => incrementalIngest({ db: work.db, logger, config }, now));
  await work.drop();
  rows.push([`first fill, ${expected.size} BAs × ${hours} h`, fmt(fill.ms), fmt(reference.ms), fmt(reference.ms / fill.ms, 2)]);
  rows.push(['the next pass with nothing new', fmt(idle.ms), '–', '–']);

  // a crash after half the BAs: the restart's pass completes exactly the others
  const half = new Map([...expected].slice(0, Math.floor(expected.size / 2)));
  const rest = new Map([...expected].slice(Math.floor(expected.size / 2)));
  const crashed = await openEngineDb('bench_fill_crash');
  await crashed.db.query('INSERT INTO store_span (source, intended_from) VALUES ($1, $2)', ['simulated', from]);
  await loadSimulatedGrid({ db: crashed.db, logger }, bas, from, hours, { only: half });
  const resume = await timed(() => incrementalIngest({ db: crashed.db, logger, config }, now));
  const [done] = await crashed.db.query<{ n: number }>(`SELECT count(DISTINCT ba_code)::integer AS n FROM series WHERE source = 'simulated'`);
  await crashed.drop();
  const direct = await openEngineDb('bench_fill_direct');
  const restRef = await timed(() => loadSimulatedGrid({ db: direct.db, logger }, bas, from, hours, { only: rest }));
  await direct.drop();
  if (done!.n !== expected.size) throw new Error(`the pass after the crash left ${expected.size - done!.n} BAs empty`);
  rows.push([`restart after a crash, ${rest.size} BAs left`, fmt(resume.ms), fmt(restRef.ms), fmt(restRef.ms / resume.ms, 2)]);
  printTable(`first fill (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}, ${days} days)`, ['pass', 'ms', 'reference ms', 'reference / pass'], rows);
}

if (import.meta.main) await benchFill();
