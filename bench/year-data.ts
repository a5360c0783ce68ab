import type { Db } from '../src/platform/db.ts';
import { envInt, fmt, openBenchSchema, timed } from './support.ts';

export const YEAR_SCHEMA = 'bench_year';
export const YEAR_START = new Date(Date.UTC(2024, 0, 1));
const FUELS = ['COL', 'NG', 'NUC', 'OIL', 'WAT', 'SUN', 'WND', 'OTH', 'BAT', 'GEO'];
const REGION_TYPES = ['demand', 'forecast', 'net_generation', 'interchange'];

export interface YearData { db: Db; bas: string[]; seriesPerBa: number; hours: number; rows: number }

interface Sizes { bas: number; seriesPerBa: number; hours: number }

/**
 * One year of hourly data: BENCH_BAS (65) BAs × BENCH_SERIES (20: the four region series, ten
 * fuels, six neighbours) × BENCH_HOURS (8760) in `observations` (monthly partitions) and the same
 * rows in `bare_observations` (one plain table, same columns, same key). Filled server-side with
 * generate_series and kept between runs (BENCH_REFILL=1 rebuilds it).
 */
export async function openYearData(): Promise<YearData> {
  const want: Sizes = { bas: envInt('BENCH_BAS', 65), seriesPerBa: envInt('BENCH_SERIES', 20), hours: envInt('BENCH_HOURS', 8760) };
  if (want.seriesPerBa > REGION_TYPES.length + FUELS.length + 6) throw new Error('BENCH_SERIES is at most 20');
  const refill = process.env.BENCH_REFILL === '1';
  let db = await openBenchSchema(YEAR_SCHEMA, { fresh: refill });
  const [have] = await db.query<Sizes>(
    `SELECT bas, series_per_ba AS "seriesPerBa", hours FROM bench_meta`).catch(() => [] as Sizes[]);
  if (!have || have.bas !== want.bas || have.seriesPerBa !== want.seriesPerBa || have.hours !== want.hours) {
    await db.close();
    db = await openBenchSchema(YEAR_SCHEMA, { fresh: true });
    await fill(db, want);
  }
  const bas = (await db.query<{ ba_code: string }>('SELECT DISTINCT ba_code FROM series ORDER BY 1')).map((r) => r.ba_code);
  return { db, bas, seriesPerBa: want.seriesPerBa, hours: want.hours, rows: want.bas * want.seriesPerBa * want.hours };
}

async function fill(db: Db, s: Sizes): Promise<void> {
  const rows = s.bas * s.seriesPerBa * s.hours;
  console.log(`filling ${YEAR_SCHEMA}: ${s.bas} BAs × ${s.seriesPerBa} series × ${s.hours} h = ${fmt(rows)} rows (once; kept for later runs)`);
  const codes = (await db.query<{ code: string }>('SELECT code FROM balancing_authorities WHERE active ORDER BY code')).map((r) => r.code);
  if (codes.length < s.bas) throw new Error(`only ${codes.length} active BAs for BENCH_BAS=${s.bas}`);
  const chosen = codes.slice(0, s.bas);
  const series: [string, string, string][] = [];
  chosen.forEach((ba, i) => {
    const kinds: [string, string][] = [
      ...REGION_TYPES.map((t): [string, string] => [t, '']),
      ...FUELS.map((f): [string, string] => ['generation_by_fuel', f]),
      ...Array.from({ length: 6 }, (_, k): [string, string] => ['ba_interchange', codes[(i + k + 1) % codes.length]!]),
    ];
    for (const [type, subtype] of kinds.slice(0, s.seriesPerBa)) series.push([ba, type, subtype]);
  });
  await db.query(
    `INSERT INTO series (ba_code, type, subtype, key)
     SELECT b, t, st, b || '.' || CASE t WHEN 'generation_by_fuel' THEN 'fuel.' || st WHEN 'ba_interchange' THEN 'interchange.' || st ELSE t END
     FROM unnest($1::text[], $2::text[], $3::text[]) AS u(b, t, st)`,
    [series.map((x) => x[0]), series.map((x) => x[1]), series.map((x) => x[2])]);
  const last = new Date(YEAR_START.getTime() + (s.hours - 1) * 3_600_000);
  await db.query('SELECT ensure_observation_partitions($1, $2)', [YEAR_START, last]);
  // series-major order: every partition's key index is appended to in ascending order
  const generate = `SELECT s.id, t, round((1000 + s.id % 97 * 40 + 400 * sin(extract(epoch FROM t) / 13751))::numeric, 1)::float8, 0
    FROM series s, LATERAL generate_series($1::timestamptz, $2::timestamptz, interval '1 hour') AS t ORDER BY s.id, t`;
  const partitioned = await timed(() => db.query(`INSERT INTO observations (series_id, ts, value, quality) ${generate}`, [YEAR_START, last]));
  await db.query(`CREATE TABLE bare_observations (LIKE observations INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (series_id, ts))`);
  const bare = await timed(() => db.query(`INSERT INTO bare_observations (series_id, ts, value, quality) ${generate}`, [YEAR_START, last]));
  const vacuum = await timed(async () => {
    for (const table of ['observations', 'bare_observations', 'series']) await db.query(`VACUUM ANALYZE ${table}`);
  });
  await db.query('CREATE TABLE bench_meta (bas integer, series_per_ba integer, hours integer)');
  await db.query('INSERT INTO bench_meta VALUES ($1, $2, $3)', [s.bas, s.seriesPerBa, s.hours]);
  await db.query('CHECKPOINT').catch((err: Error) => console.log(`(CHECKPOINT skipped: ${err.message})`));
  console.log(`filled in ${fmt(partitioned.ms / 1000, 1)} s (partitioned), ${fmt(bare.ms / 1000, 1)} s (bare), vacuum analyze ${fmt(vacuum.ms / 1000, 1)} s`);
}
