import type { Db } from '../src/platform/db.ts';
import { upsertObservations, type ObservationInput, type UpsertPath } from '../src/grid/observation-repository.ts';
import { dropBenchSchema, envInt, fmt, openBenchSchema, printTable, timed } from './support.ts';

const SCHEMA = 'bench_upsert';
const HOUR = 3_600_000;
const YEAR_START = Date.UTC(2024, 0, 1);

/** Series ids 1..n, hourly from 2024-01-01, values that look like load and change every hour. */
function yearOfRows(seriesIds: number[], hours: number, shift = 0): ObservationInput[] {
  const rows: ObservationInput[] = [];
  for (const seriesId of seriesIds) {
    for (let h = 0; h < hours; h++) {
      rows.push({ seriesId, ts: new Date(YEAR_START + h * HOUR), value: 1000 + seriesId + Math.round(300 * Math.sin(h / 3.8)) + shift, quality: 'good' });
    }
  }
  return rows;
}

async function createSeries(db: Db, count: number): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `INSERT INTO series (ba_code, type, subtype, key)
     SELECT 'CISO', 'generation_by_fuel', 'F' || i, 'CISO.fuel.F' || i FROM generate_series(1, $1::integer) AS i RETURNING id`, [count]);
  return rows.map((r) => r.id);
}

/** COPY of the same rows into a plain table of the same shape and key: the reference. */
async function copyReference(db: Db, rows: ObservationInput[]): Promise<number> {
  await db.query('TRUNCATE copy_reference');
  const { ms } = await timed(() => db.copyInto('copy_reference', ['series_id', 'ts', 'value', 'quality'],
    rows.map((r) => [r.seriesId, r.ts, r.value, 0])));
  return ms;
}

/** The year re-cut the way a backfill fetches it: every series, one month at a time. */
function byMonth(rows: ObservationInput[]): ObservationInput[][] {
  const months = new Map<number, ObservationInput[]>();
  for (const r of rows) {
    const key = r.ts.getUTCFullYear() * 12 + r.ts.getUTCMonth();
    let list = months.get(key);
    if (!list) months.set(key, (list = []));
    list.push(r);
  }
  return [...months.values()];
}

async function upsertBatches(db: Db, batches: ObservationInput[][], path: UpsertPath): Promise<{ ms: number; inserted: number; updated: number }> {
  let inserted = 0;
  let updated = 0;
  const { ms } = await timed(async () => {
    for (const batch of batches) {
      const r = await upsertObservations(db, batch, { path });
      inserted += r.inserted;
      updated += r.updated;
    }
  });
  return { ms, inserted, updated };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (rows: number, ms: number) => fmt(rows / (ms / 1000));

/**
 * Bulk upsert (COPY into a staging table + one merge) against a raw COPY of the same rows into an
 * empty keyed table on the same server, then a one-year backfill in ingest-sized batches, the
 * idempotent re-run, a revision pass, and the unnest/COPY crossover for small batches.
 */
export async function benchUpsert(): Promise<void> {
  const seriesCount = envInt('BENCH_UPSERT_SERIES', 120);
  const hours = envInt('BENCH_UPSERT_HOURS', 8760);
  const reps = envInt('BENCH_REPS', 3);
  const db = await openBenchSchema(SCHEMA, { fresh: true });
  try {
    await db.query(`CREATE TABLE copy_reference (LIKE observations INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (series_id, ts))`);
    const ids = await createSeries(db, seriesCount);
    const rows = yearOfRows(ids, hours);
    const n = rows.length;
    console.log(`upsert bench: ${fmt(seriesCount)} series × ${fmt(hours)} h = ${fmt(n)} rows, ${reps} repetitions (median)`);

    const copyMs: number[] = [];
    const bulkMs: number[] = [];
    const backfillMs: number[] = [];
    const unnestMs: number[] = [];
    const mixedMs: number[] = [];
    const half = rows.filter((r) => r.seriesId % 2 === 0);
    const months = byMonth(rows);
    for (let rep = 0; rep < reps; rep++) {
      copyMs.push(await copyReference(db, rows));
      await db.query('TRUNCATE observations');
      const bulk = await upsertBatches(db, [rows], 'copy');
      if (bulk.inserted !== n) throw new Error(`bulk upsert inserted ${bulk.inserted} of ${n}`);
      bulkMs.push(bulk.ms);
      await db.query('TRUNCATE observations');
      backfillMs.push((await upsertBatches(db, months, 'auto')).ms);
      await db.query('TRUNCATE observations');
      unnestMs.push((await upsertBatches(db, months, 'unnest')).ms);
      await db.query('TRUNCATE observations');
      await upsertObservations(db, half);
      const mixed = await upsertBatches(db, [rows], 'copy');
      if (mixed.inserted !== n - half.length || mixed.updated !== 0) throw new Error('mixed upsert counts are wrong');
      mixedMs.push(mixed.ms);
    }
    const same = await upsertBatches(db, months, 'auto');
    const revised = await upsertBatches(db, byMonth(yearOfRows(ids, hours, 1)), 'auto');
    if (same.inserted + same.updated !== 0 || revised.updated !== n) throw new Error('re-run or revision counts are wrong');

    const copy = median(copyMs);
    const line = (what: string, ms: number) => [what, fmt(ms), rate(n, ms), rate(n, copy), fmt(copy / ms, 2)];
    printTable(`Bulk upsert vs COPY into an empty keyed table (${fmt(n)} rows)`,
      ['work', 'ms', 'rows/s', 'reference COPY rows/s', 'ratio'], [
        line('upsertObservations, one call, all keys new (COPY straight in)', median(bulkMs)),
        line('one call, half the series already stored (COPY → stage → merge)', median(mixedMs)),
        line(`one-year backfill, ${fmt(seriesCount)} series × ${fmt(hours)} h, month by month (auto path)`, median(backfillMs)),
        line(`same backfill through the unnest path`, median(unnestMs)),
        line('backfill re-run, nothing changed (no writes)', same.ms),
        line('backfill revision pass, every value changed', revised.ms),
      ]);

    await crossover(db, ids);
  } finally {
    await dropBenchSchema(db, SCHEMA);
    // flush the gigabytes this bench dirtied now, or the next bench's reads queue behind the checkpoint's writes
    await db.query('CHECKPOINT').catch((err: Error) => console.log(`(CHECKPOINT skipped: ${err.message})`));
    await db.close();
  }
}

/** New rows through each path at small batch sizes: where COPY starts to pay. */
async function crossover(db: Db, ids: number[]): Promise<void> {
  const table: string[][] = [];
  let offset = 0;
  for (const size of [50, 200, 500, 1_000, 5_000, 20_000]) {
    const cells: number[] = [];
    for (const path of ['unnest', 'copy'] as const) {
      const calls = Math.max(3, Math.round(40_000 / size));
      const perSeries = Math.ceil(size / ids.length);
      const batches = Array.from({ length: calls }, () => {
        const start = Date.UTC(2030, 0, 1) + (offset += perSeries) * HOUR;
        return ids.flatMap((seriesId) => Array.from({ length: perSeries }, (_, h) => ({ seriesId, ts: new Date(start + h * HOUR), value: h, quality: 'good' as const }))).slice(0, size);
      });
      const { ms } = await timed(async () => { for (const b of batches) await upsertObservations(db, b, { path }); });
      cells.push(ms / calls);
    }
    table.push([fmt(size), fmt(cells[0]!, 1), fmt(cells[1]!, 1), fmt(cells[0]! / cells[1]!, 2)]);
  }
  printTable('Small batches of new rows: unnest vs COPY path (ms per call)', ['rows per call', 'unnest ms', 'COPY ms', 'unnest / COPY'], table);
}
