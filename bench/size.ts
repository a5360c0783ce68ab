import { fmt, printTable } from './support.ts';
import { openYearData } from './year-data.ts';

interface Size { heap: number; indexes: number; total: number }

/** Bytes per observation on disk (heap + TOAST + indexes, over every partition) vs the bare table. */
export async function benchSize(): Promise<void> {
  const y = await openYearData();
  try {
    const [partitioned] = await y.db.query<Size>(
      `SELECT sum(pg_table_size(c.oid))::float8 AS heap, sum(pg_indexes_size(c.oid))::float8 AS indexes, sum(pg_total_relation_size(c.oid))::float8 AS total
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'observations'::regclass`);
    const [bare] = await y.db.query<Size>(
      `SELECT pg_table_size('bare_observations')::float8 AS heap, pg_indexes_size('bare_observations')::float8 AS indexes,
              pg_total_relation_size('bare_observations')::float8 AS total`);
    const per = (bytes: number) => fmt(bytes / y.rows, 1);
    printTable(`Bytes per observation on disk (${fmt(y.rows)} rows, after VACUUM ANALYZE)`,
      ['table', 'heap B/row', 'indexes B/row', 'total B/row', 'total MB', 'ratio bare/GridPulse'], [
        ['observations (monthly partitions)', per(partitioned!.heap), per(partitioned!.indexes), per(partitioned!.total), fmt(partitioned!.total / 1048576), fmt(bare!.total / partitioned!.total, 2)],
        ['bare_observations (one table, same columns and key)', per(bare!.heap), per(bare!.indexes), per(bare!.total), fmt(bare!.total / 1048576), '1.00'],
      ]);
  } finally {
    await y.db.close();
  }
}
