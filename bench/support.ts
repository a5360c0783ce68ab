import { execFileSync } from 'node:child_process';
import postgres from 'postgres';
import { openDb, type Db } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';

/** Benchmarks never touch the `test` database's tables: they use their own database (DATABASE_URL overrides). */
export const BENCH_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/gridpulse_bench';

/** Creates the bench database through the `test` database when it does not exist yet. */
export async function ensureBenchDatabase(): Promise<void> {
  if (process.env.DATABASE_URL) return;
  const name = new URL(BENCH_URL).pathname.slice(1);
  const admin = postgres('postgres://postgres@127.0.0.1:5432/test', { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`SELECT 1 AS ok FROM pg_database WHERE datname = ${name}`;
    if (!row) await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

/** A Db on the bench database with `schema` first on the search path (created, and migrated). */
export async function openBenchSchema(schema: string, opts: { fresh: boolean }): Promise<Db> {
  await ensureBenchDatabase();
  const admin = postgres(BENCH_URL, { max: 1, onnotice: () => {} });
  try {
    if (opts.fresh) await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } finally {
    await admin.end();
  }
  const url = new URL(BENCH_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const db = await openDb({ databaseUrl: url.toString(), dataDir: ':memory:' });
  await migrate(db);
  return db;
}

export async function dropBenchSchema(db: Db, schema: string): Promise<void> {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/**
 * PGlite in memory by default (on the calling thread, or its own worker thread with pgliteThread: 'worker'); with
 * DATABASE_URL, PostgreSQL in a throw-away schema named `${prefix}_${pid}`
 * (for the single-function benches: bench/pulse.ts, bench/accuracy.ts). `drop` removes what it made.
 */
export async function openEngineDb(prefix: string, opts: { pgliteThread?: 'main' | 'worker' } = {}): Promise<{ db: Db; drop: () => Promise<void> }> {
  if (!process.env.DATABASE_URL) {
    const db = await openDb({ dataDir: ':memory:', thread: opts.pgliteThread ?? 'main' });
    await migrate(db);
    return { db, drop: async () => {} };
  }
  const schema = `${prefix}_${process.pid}`;
  const db = await openBenchSchema(schema, { fresh: true });
  return { db, drop: () => dropBenchSchema(db, schema) };
}

/** Integer from the environment, else the default (sizes default to the full sizes). */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const t0 = performance.now();
  const result = await fn();
  return { ms: performance.now() - t0, result };
}

/** Nearest-rank percentile of an unsorted sample. */
export function percentile(sample: number[], p: number): number {
  const sorted = [...sample].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function loadAverage(): string {
  return execFileSync('uptime', { encoding: 'utf8' }).trim().replace(/^.*load average:\s*/, 'load ');
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Prints a Markdown table (so a run's output can be pasted into bench/RESULTS.md). */
export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  console.log(`\n### ${title}  (${loadAverage()})\n`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

export { seeded } from '../src/platform/random.ts';
