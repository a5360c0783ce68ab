import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { openDb, type Db } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import { backupVerifyCommand, type BackupReport } from '../src/cli/backup-command.ts';
import { freePort, PgCluster, pgBinariesPresent } from './support/pg-cluster.ts';

const silent = pino({ level: 'silent' });

async function verify(opts: Parameters<typeof backupVerifyCommand>[0]): Promise<{ code: number; report: BackupReport & { ok: boolean; problems: string[] } }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => { text += c.toString(); });
  const code = await backupVerifyCommand({ ...opts, json: true }, out);
  return { code, report: JSON.parse(text) as BackupReport & { ok: boolean; problems: string[] } };
}

const day = (d: string) => new Date(`${d}T00:00:00Z`);
const count = async (db: Db) => Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM observations'))[0]!.n);

describe('backups: a point-in-time restore and a pg_dump, checked by `gridpulse backup verify`', { skip: !pgBinariesPresent() && !process.env.CI ? 'PostgreSQL server binaries not installed' : false }, () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

  it('restores to a chosen moment: rows written after the base backup and before the moment are there, later ones are not', async () => {
    const archive = PgCluster.tempDir('gp-pg-archive-');
    cleanup.push(async () => rmSync(archive, { recursive: true, force: true }));
    const primary = await PgCluster.primary({ archiveDir: archive });
    cleanup.push(() => primary.destroy());
    const db = await openDb({ databaseUrl: primary.url, dataDir: ':memory:' });
    cleanup.push(() => db.close());
    await migrate(db);
    const bas = (await listBas(db)).filter((b) => ['CISO', 'PJM'].includes(b.code));
    await loadSimulatedGrid({ db, logger: silent }, bas, day('2026-01-01'), 24);
    const base = await primary.baseBackup();
    cleanup.push(async () => rmSync(base, { recursive: true, force: true }));
    // written after the base backup, before the chosen moment: only the WAL archive has them
    await loadSimulatedGrid({ db, logger: silent }, bas, day('2026-01-02'), 24);
    const rowsAtMoment = await count(db);
    const [{ moment }] = await db.query<{ moment: Date }>('SELECT clock_timestamp() AS moment') as [{ moment: Date }];
    await new Promise((r) => setTimeout(r, 1100));
    // after the moment: must not be restored
    await loadSimulatedGrid({ db, logger: silent }, bas, day('2026-01-03'), 24);
    assert.ok(await count(db) > rowsAtMoment);
    const [{ wal }] = await db.query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal') as [{ wal: string }];
    const until = Date.now() + 30_000;
    while (!readdirSync(archive).includes(wal)) {
      if (Date.now() > until) throw new Error(`WAL segment ${wal} was not archived`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const restored = await PgCluster.restoredTo(base, archive, new Date(moment).toISOString());
    cleanup.push(() => restored.destroy());
    const rdb = await openDb({ databaseUrl: restored.url, dataDir: ':memory:' });
    try {
      for (let i = 0; (await rdb.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r; i++) {
        if (i > 300) throw new Error('the restore did not finish recovery');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await count(rdb), rowsAtMoment);
    } finally { await rdb.close(); }

    const ok = await verify({ url: restored.url, expectNewest: '2026-01-02T23:00:00Z' });
    assert.equal(ok.code, 0, ok.report.problems.join('; '));
    assert.equal(ok.report.newestHour, '2026-01-02T23:00:00.000Z');
    assert.equal(ok.report.tables.observations, rowsAtMoment);
    assert.deepEqual(ok.report.pendingMigrations, []);
    // verify can fail: the hour written after the moment is not in the restore
    const later = await verify({ url: restored.url, expectNewest: '2026-01-03T23:00:00Z' });
    assert.equal(later.code, 1);
    assert.match(later.report.problems.join(';'), /newest hour 2026-01-02T23:00:00.000Z, expected 2026-01-03T23:00:00.000Z/);

    // a logical copy: pg_dump of the primary, restored by verify into a scratch database and dropped
    const dump = path.join(archive, 'gridpulse.dump');
    execFileSync('pg_dump', ['-Fc', '-f', dump, primary.url]);
    const logical = await verify({ url: primary.url, dump, expectNewest: '2026-01-03T23:00:00Z' });
    assert.equal(logical.code, 0, logical.report.problems.join('; '));
    assert.equal(logical.report.tables.observations, await count(db));
    const left = await db.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'gp_verify_%'`);
    assert.deepEqual([...left], [], 'the scratch database is dropped');
  });
});

describe('backup verify: an unreachable database', () => {
  it('is named as given (--url), not as DATABASE_URL', async () => {
    const port = await freePort();
    await assert.rejects(backupVerifyCommand({ url: `postgres://postgres@127.0.0.1:${port}/none` }, new PassThrough()), (err: Error) => {
      assert.match(err.message, /^cannot reach --url: /);
      return true;
    });
  });
});
