import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { loadConfig } from '../platform/config.ts';
import { openDb, type Db } from '../platform/db.ts';
import { pendingMigrations } from '../platform/migrate.ts';

const run = promisify(execFile);

export interface BackupReport {
  /** exact row count of every table of the public schema (partitions counted in their parent) */
  tables: Record<string, number>;
  /** the newest observation hour (UTC ISO start), or null when the store holds none */
  newestHour: string | null;
  /** migrations the restored schema lacks against this release */
  pendingMigrations: string[];
}

/** Row counts of the store's tables, its newest observation hour and missing migrations. */
export async function backupReport(db: Db): Promise<BackupReport> {
  const names = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`);
  const tables: Record<string, number> = {};
  for (const { name } of names) {
    const [r] = await db.query<{ n: number }>(`SELECT count(*)::bigint::text AS n FROM "${name.replaceAll('"', '""')}"`);
    tables[name] = Number(r!.n);
  }
  const [newest] = await db.query<{ ts: Date | string | null }>('SELECT max(ts) AS ts FROM observations');
  return { tables, newestHour: newest?.ts ? new Date(newest.ts).toISOString() : null, pendingMigrations: await pendingMigrations(db) };
}

export interface BackupVerifyOptions {
  /** a pg_dump archive (custom format, `pg_dump -Fc`) to restore first into a scratch database on the server of `url` (or DATABASE_URL) */
  dump?: string;
  /** verify this database as it is (a point-in-time restore already started), instead of DATABASE_URL */
  url?: string;
  /** the newest hour the copy must hold (ISO instant); later hours are an error too */
  expectNewest?: string;
  /** tables that must not be empty (default observations, series, balancing_authorities) */
  require?: string[];
  /** print the report as JSON */
  json?: boolean;
}

/**
 * `gridpulse backup verify`: restores a pg_dump archive into a scratch database beside DATABASE_URL's (dropped
 * afterwards), or opens a restored cluster (`--url`), and checks it: every migration present, the required tables
 * not empty, the newest observation hour equal to --expect-newest. Prints the row counts; exit 0 when it holds,
 * 1 when a check failed. Needs PostgreSQL (pg_restore on PATH for --dump).
 */
export async function backupVerifyCommand(opts: BackupVerifyOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const config = loadConfig();
  const base = opts.url ?? config.DATABASE_URL;
  if (!base) throw new Error('backup verify needs PostgreSQL: set DATABASE_URL (or pass --url)');
  let target = base;
  let scratch: string | undefined;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    if (opts.dump) {
      scratch = `gp_verify_${process.pid}_${Date.now().toString(36)}`;
      await admin.unsafe(`CREATE DATABASE ${scratch}`);
      const u = new URL(base);
      u.pathname = `/${scratch}`;
      target = u.toString();
      await run('pg_restore', ['--no-owner', '--exit-on-error', '-d', target, opts.dump], { maxBuffer: 16 << 20 });
    }
    const db = await openDb({ databaseUrl: target, dataDir: ':memory:', urlName: scratch ? `the scratch database ${scratch}` : opts.url ? '--url' : 'DATABASE_URL' });
    let report: BackupReport;
    try { report = await backupReport(db); } finally { await db.close(); }
    const problems: string[] = [];
    if (report.pendingMigrations.length) problems.push(`migrations missing: ${report.pendingMigrations.join(', ')}`);
    for (const t of opts.require ?? ['observations', 'series', 'balancing_authorities']) {
      if (!(t in report.tables)) problems.push(`table ${t} missing`);
      else if (report.tables[t] === 0) problems.push(`table ${t} empty`);
    }
    if (opts.expectNewest) {
      const want = new Date(opts.expectNewest);
      if (Number.isNaN(want.getTime())) throw new Error(`--expect-newest: not an instant: ${opts.expectNewest}`);
      if (report.newestHour !== want.toISOString()) problems.push(`newest hour ${report.newestHour ?? 'none'}, expected ${want.toISOString()}`);
    }
    if (opts.json) out.write(JSON.stringify({ ...report, ok: problems.length === 0, problems }) + '\n');
    else {
      for (const [t, n] of Object.entries(report.tables)) out.write(`${t.padEnd(32)} ${n}\n`);
      out.write(`newest hour: ${report.newestHour ?? 'none'}\n`);
      out.write(problems.length ? problems.map((p) => `FAILED: ${p}\n`).join('') : 'backup verified\n');
    }
    return problems.length ? 1 : 0;
  } finally {
    if (scratch) await admin.unsafe(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`).catch(() => {});
    await admin.end({ timeout: 5 });
  }
}
