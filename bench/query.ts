import type { Db } from '../src/platform/db.ts';
import { readObservations } from '../src/grid/observation-repository.ts';
import { loadBaHours } from '../src/analytics/shared/hourly.ts';
import { envInt, fmt, percentile, printTable, seeded, timed } from './support.ts';
import { openYearData, YEAR_START, type YearData } from './year-data.ts';

const HOUR = 3_600_000;

interface Workload {
  name: string;
  target: string;
  run: (db: Db, q: Query) => Promise<unknown>;
}

interface Query { ba: string; seriesId: number; from: Date; to: Date }

/**
 * The reference Db: every statement the GridPulse code sends, with `observations` read as
 * `bare_observations`. So the reference always runs the same SQL as the path, whatever its shape.
 */
function onBareTable(db: Db): Db {
  return { ...db, query: (sql, params) => db.query(sql.replace(/\bobservations\b/g, 'bare_observations'), params) };
}

function workloads(y: YearData): Workload[] {
  const series = (db: Db, q: Query) => readObservations(db, q.seriesId, q.from, q.to, 1000, 0);
  const ba = (db: Db, q: Query) => loadBaHours(db, q.ba, q.from, q.to);
  return [
    { name: 'one series, one day (24 rows): readObservations', target: 'p95 < 2 ms', run: series },
    { name: 'one series, 30 days (720 rows): readObservations', target: 'p95 < 10 ms', run: series },
    { name: `one BA, one day (${y.seriesPerBa * 24} rows): loadBaHours`, target: 'p95 < 2 ms', run: ba },
    { name: `one BA, 30 days (${fmt(y.seriesPerBa * 720)} rows): loadBaHours`, target: 'p95 < 10 ms', run: ba },
  ];
}

/**
 * Latency of the read paths on one year of hourly data: ≥ 200 random (seeded) queries per
 * workload, each through the GridPulse code on the partitioned table and, as the reference, the
 * same code and SQL on the bare table, alternating so that both see the same load.
 */
export async function benchQuery(): Promise<void> {
  const queries = envInt('BENCH_QUERIES', 300);
  const y = await openYearData();
  try {
    const ids = await y.db.query<{ id: number; ba_code: string }>('SELECT id, ba_code FROM series ORDER BY id');
    console.log(`query bench: ${fmt(y.rows)} rows (${y.bas.length} BAs × ${y.seriesPerBa} series × ${fmt(y.hours)} h), ${queries} queries per workload`);
    const rows: string[][] = [];
    const spans = [1, 30, 1, 30];
    const list = workloads(y);
    const bare = onBareTable(y.db);
    for (let w = 0; w < list.length; w++) {
      const load = list[w]!;
      const random = seeded(1000 + w);
      const pick = (): Query => {
        const s = ids[Math.floor(random() * ids.length)]!;
        const startHour = Math.floor(random() * (y.hours - spans[w]! * 24) / 24) * 24;
        const from = new Date(YEAR_START.getTime() + startHour * HOUR);
        return { ba: s.ba_code, seriesId: s.id, from, to: new Date(from.getTime() + spans[w]! * 24 * HOUR) };
      };
      const work: number[] = [];
      const ref: number[] = [];
      const once = async (target: Db, into: number[], q: Query) => into.push((await timed(() => load.run(target, q))).ms);
      for (let i = 0; i < 20; i++) { // warm-up, and proof that both tables answer alike
        const q = pick();
        if (JSON.stringify(await load.run(y.db, q)) !== JSON.stringify(await load.run(bare, q))) throw new Error(`${load.name}: the tables differ`);
      }
      for (let i = 0; i < queries; i++) {
        const q = pick();
        if (i % 2) { await once(bare, ref, q); await once(y.db, work, q); }
        else { await once(y.db, work, q); await once(bare, ref, q); }
      }
      const p = (xs: number[], n: number) => fmt(percentile(xs, n), 2);
      rows.push([load.name, p(work, 50), p(work, 95), p(work, 99), p(ref, 50), p(ref, 95), p(ref, 99),
        fmt(percentile(ref, 95) / percentile(work, 95), 2), load.target]);
    }
    printTable(`Read latency in ms on ${fmt(y.rows)} hourly rows: GridPulse code on the partitioned table vs the same code and SQL on a bare unpartitioned table`,
      ['workload', 'p50', 'p95', 'p99', 'bare p50', 'bare p95', 'bare p99', 'ratio bare/GridPulse (p95)', 'target'], rows);
  } finally {
    await y.db.close();
  }
}
