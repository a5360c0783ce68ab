import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { processTargets, withDb, type ProcessTarget } from './support/process-targets.ts';
import { FakeEia, regionRows } from './support/fake-eia-server.ts';
import { GridpulseProcess, gridpulseEnv } from './support/gridpulse-process.ts';

const DAYS = 8;
const args = ['ingest', '--ba', 'CISO,PJM', '--from', '2025-07-01', '--to', '2025-07-08', '--routes', 'region'];

for (const t of processTargets('resume')) {
  describe(`gridpulse ingest after kill -9 on ${t.name}`, () => {
    let dir: string;
    let target: ProcessTarget;
    const fake = new FakeEia();
    let url: string;
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'gp-resume-'));
      target = await t.make(dir);
      for (const ba of ['CISO', 'PJM']) fake.rows.region.push(...regionRows(ba, new Date('2025-07-01T01:00Z'), DAYS * 24, (h, type) => String(1000 + h + type.length)));
      fake.delayMs = 300; // a slow EIA: the kill comes in the middle of the run
      url = await fake.start();
    });
    after(async () => { await fake.stop(); await target.drop(); rmSync(dir, { recursive: true, force: true }); });

    it('resumes the killed run at once (its process is gone), skipping the day-routes it finished', async () => {
      const env = gridpulseEnv({ DATA_DIR: dir, LOG_LEVEL: 'silent', EIA_API_KEY: 'test-key-123456', EIA_API_URL: url, ...target.env });
      const first = new GridpulseProcess(args, env, dir);
      try {
        while (fake.requests.length < 4) {
          if (first.child.exitCode !== null) throw new Error(`ingest exited early: ${first.stderr}`);
          await setTimeout(20);
        }
      } finally {
        first.kill('SIGKILL');
        await first.exited;
      }
      const killed = await withDb(target, async (db) => {
        const [run] = await db.query<{ id: number; status: string }>(`SELECT id, status FROM ingest_runs ORDER BY id DESC LIMIT 1`);
        assert.equal(run!.status, 'running', 'the killed run was left running, with a fresh heartbeat');
        const [chunks] = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM ingest_chunks WHERE run_id = $1', [run!.id]);
        assert.ok(chunks!.n >= 1 && chunks!.n < DAYS, `${chunks!.n} day-routes finished before the kill`);
        return { id: run!.id, finished: chunks!.n };
      });
      const before = fake.requests.length;
      const started = Date.now();
      const again = new GridpulseProcess(args, env, dir);
      const exit = await again.exited;
      assert.deepEqual(exit, { code: 0, signal: null }, again.stderr);
      assert.match(again.stderr, new RegExp(`resuming run ${killed.id}: finished day-routes are skipped`));
      assert.ok(Date.now() - started < 60_000);
      assert.equal(fake.requests.length - before, DAYS - killed.finished, 'only the day-routes the killed run had not finished are fetched');
      await withDb(target, async (db) => {
        const [dead] = await db.query<{ status: string; errors: string[] }>('SELECT status, errors FROM ingest_runs WHERE id = $1', [killed.id]);
        assert.match(dead!.errors.at(-1)!, /^interrupted: its process \d+ on .* is gone$/);
        const [demand] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.type = 'demand'`);
        assert.equal(demand!.n, 2 * DAYS * 24, 'every hour of both BAs is stored');
      });
    });
  });
}
