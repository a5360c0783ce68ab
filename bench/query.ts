import { readObservations } from '../src/grid/observation-repository.ts';
import { loadBaHours } from '../src/analytics/hourly.ts';
import { envInt, fmt, percentile, printTable, seeded, timed } from './support.ts';
import { openYearData, YEAR_START, type YearData } from './year-data.ts';

const HOUR = 3_600_000;

interface Workload {
  name: string;
  target: string;
  /** the GridPulse path */
  work: (q: Query) => Promise<unknown>;
  /** the same SQL on the bare table, rows returned as the driver gives them */
  reference: (q: Query) => Promise<unknown>;
}

interface Query { ba: string; seriesId: number; from: Date; to: Date }

function workloads(y: YearData): Workload[] {
  const { db } = y;
  const oneSeries = (table: string) => (q: Query) => db.query(
    `SELECT ts, value, quality FROM ${table} WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts LIMIT $4 OFFSET $5`,
    [q.seriesId, q.from, q.to, 1000, 0]);
  const oneBa = (q: Query) => db.query(
    `SELECT s.type, s.subtype, s.source, o.ts, o.value FROM series s JOIN bare_observations o ON o.series_id = s.id
      WHERE s.ba_code = $1 AND o.ts >= $2 AND o.ts < $3`, [q.ba, q.from, q.to]);
  const series = (q: Query) => readObservations(db, q.seriesId, q.from, q.to, 1000, 0);
  const ba = (q: Query) => loadBaHours(db, q.ba, q.from, q.to);
  return [
    { name: 'one series, one day (24 rows): readObservations', target: 'p95 < 2 ms', work: series, reference: oneSeries('bare_observations') },
    { name: 'one series, 30 days (720 rows): readObservations', target: 'p95 < 10 ms', work: series, reference: oneSeries('bare_observations') },
    { name: `one BA, one day (${y.seriesPerBa * 24} rows): loadBaHours`, target: 'p95 < 2 ms', work: ba, reference: oneBa },
    { name: `one BA, 30 days (${fmt(y.seriesPerBa * 720)} rows): loadBaHours`, target: 'p95 < 10 ms', work: ba, reference: oneBa },
  ];
}

/**
 * Latency of the read paths on one year of hourly data: ≥ 200 random (seeded) queries per
 * workload, GridPulse path and bare-table reference alternating so that both see the same load.
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
    for (let w = 0; w < list.length; w++) {
      const load = list[w]!;
      const random = seeded(1000 + w);
      const pick = (): Query => {
        const s = ids[Math.floor(random() * ids.length)]!;
        const startHour = Math.floor(random() * (y.hours - spans[w]! * 24) / 24) * 24;
        const from = new Date(YEAR_START.getTime() + startHour * HOUR);
        return { ba: s.ba_code, seriesId: s.id, from, to: new Date(from.getTime() + spans[w]! * 24 * HOUR) };
      };
      for (let i = 0; i < 20; i++) { const q = pick(); await load.work(q); await load.reference(q); } // warm-up
      const work: number[] = [];
      const ref: number[] = [];
      for (let i = 0; i < queries; i++) {
        const q = pick();
        if (i % 2) { ref.push((await timed(() => load.reference(q))).ms); work.push((await timed(() => load.work(q))).ms); }
        else { work.push((await timed(() => load.work(q))).ms); ref.push((await timed(() => load.reference(q))).ms); }
      }
      const p = (xs: number[], n: number) => fmt(percentile(xs, n), 2);
      rows.push([load.name, p(work, 50), p(work, 95), p(work, 99), p(ref, 50), p(ref, 95), p(ref, 99),
        fmt(percentile(ref, 95) / percentile(work, 95), 2), load.target]);
    }
    printTable(`Read latency in ms on ${fmt(y.rows)} hourly rows: GridPulse path vs the same query on a bare unpartitioned table`,
      ['workload', 'p50', 'p95', 'p99', 'bare p50', 'bare p95', 'bare p99', 'ratio bare/GridPulse (p95)', 'target'], rows);
  } finally {
    await y.db.close();
  }
}
