import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { thisProcess } from '../platform/process-owner.ts';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { findResumable, finishRun, hasParams, heartbeat, listRuns, markAbandonedRuns, startRun } from './run-ledger.ts';

for (const target of testDatabases()) {
  describe(`run ledger JSON on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('closes a run whose process is gone at once, and waits for the heartbeat of one it cannot check', async () => {
      const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      await once(child, 'exit');
      const me = thisProcess();
      const dead = await startRun(db, 'cli', 'eia', { dead: true }, { ...me, pid: child.pid! });
      const remote = await startRun(db, 'cli', 'eia', { remote: true }, { ...me, pid: child.pid!, host: `${me.host}-elsewhere` });
      const live = await startRun(db, 'cli', 'eia', { live: true });
      const worker = await startRun(db, 'hourly (worker pi)', 'eia', {}, null);
      assert.equal(await markAbandonedRuns(db, 15), 1);
      const rows = await db.query<{ id: number; status: string; errors: string[] }>('SELECT id, status, errors FROM ingest_runs WHERE id = ANY ($1::integer[])', [[dead, remote, live, worker]]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      assert.equal(byId.get(dead)!.status, 'failed');
      assert.equal(byId.get(dead)!.errors.at(-1), `interrupted: its process ${child.pid} on ${me.host} is gone`);
      assert.equal(await findResumable(db, 'cli', { dead: true }), dead, 'resumable at once');
      for (const id of [remote, live, worker]) assert.equal(byId.get(id)!.status, 'running');
      await db.query(`UPDATE ingest_runs SET started_at = now() - interval '1 hour' WHERE id = ANY ($1::integer[])`, [[remote, worker]]);
      assert.equal(await markAbandonedRuns(db, 15), 2, 'the others once their heartbeat is stale');
      await db.query(`UPDATE ingest_runs SET status = 'succeeded' WHERE id = $1`, [live]);
    });

    it('stores params and errors as JSON objects and arrays (not JSON text in a string), so SQL can read inside them', async () => {
      const params = { bas: ['CISO'], from: '2025-07-01T00:00:00.000Z', apiKey: 'abc' };
      const id = await startRun(db, 'cli', 'eia', params);
      const totals = { fetched: 1, inserted: 0, updated: 0, rejected: 0, requests: 1, retries: 0, errors: ['region 2025-07-01: HTTP 500'] };
      await heartbeat(db, id, totals);
      const [mid] = await db.query<{ p: string; e: string; key: string }>(`SELECT jsonb_typeof(params) AS p, jsonb_typeof(errors) AS e, params->>'apiKey' AS key FROM ingest_runs WHERE id = $1`, [id]);
      assert.deepEqual({ ...mid }, { p: 'object', e: 'array', key: 'abc' });
      await finishRun(db, id, totals);
      assert.equal(await findResumable(db, 'cli', params), id);
      assert.equal(await hasParams(db, id, 'cli', params), true);
      assert.equal(await hasParams(db, id, 'cli', { ...params, apiKey: 'other' }), false);
      // a run that died: the 'interrupted' reason is appended to its errors array
      const dead = await startRun(db, 'hourly', 'eia', {});
      await finishRun(db, dead, { ...totals, errors: ['first'] });
      await db.query(`UPDATE ingest_runs SET status = 'running', heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [dead]);
      assert.equal(await markAbandonedRuns(db, 15), 1);
      const runs = await listRuns(db, 10);
      const byId = new Map(runs.map((r) => [r.id, r]));
      assert.deepEqual(byId.get(id)!.params, params);
      assert.deepEqual(byId.get(id)!.errors, ['region 2025-07-01: HTTP 500']);
      const deadErrors = byId.get(dead)!.errors as string[];
      assert.equal(deadErrors.length, 2);
      assert.equal(deadErrors[0], 'first');
      assert.match(deadErrors[1]!, /^interrupted/);
    });

    it('the repair migration turns runs stored as JSON strings back into objects and arrays', async () => {
      const [r] = await db.query<{ id: number }>(`INSERT INTO ingest_runs (kind, source, params, errors) VALUES ('cli', 'eia', to_jsonb('{"a":1}'::text), to_jsonb('["x"]'::text)) RETURNING id`);
      const repair = readFileSync(new URL('../../migrations/0018_ledger_json_objects.sql', import.meta.url), 'utf8');
      for (const stmt of repair.replace(/^\s*--.*$/gm, '').split(';').map((x) => x.trim()).filter(Boolean)) await db.query(stmt);
      const [after] = await db.query<{ p: string; e: string; a: string }>(`SELECT jsonb_typeof(params) AS p, jsonb_typeof(errors) AS e, params->>'a' AS a FROM ingest_runs WHERE id = $1`, [r!.id]);
      assert.deepEqual({ ...after }, { p: 'object', e: 'array', a: '1' });
    });
  });
}
