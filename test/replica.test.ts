import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { openDb } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { isRouted, openRoutedDb, replicaCheck, withReplica, type RoutedDb } from '../src/platform/db-replica.ts';
import { buildApp } from '../src/app.ts';
import { PgCluster, pgBinariesPresent } from './support/pg-cluster.ts';

const waitFor = async (what: string, ok: () => boolean | Promise<boolean>, ms = 15_000) => {
  const until = Date.now() + ms;
  while (!await ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('DATABASE_REPLICA_URL: a streaming replica started by the test', { skip: !pgBinariesPresent() && !process.env.CI ? 'PostgreSQL server binaries not installed' : false }, () => {
  let primary: PgCluster;
  let replica: PgCluster;
  let db: RoutedDb;
  let app: FastifyInstance;
  const inRecovery = async () => (await db.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r;

  before(async () => {
    primary = await PgCluster.primary();
    replica = await PgCluster.replicaOf(primary);
    db = withReplica(await openDb({ databaseUrl: primary.url, dataDir: ':memory:' }), await openDb({ databaseUrl: replica.url, dataDir: ':memory:' }), { maxLagMs: 5000, pollMs: 100 });
    await migrate(db);
    app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache() });
    app.readiness.add('replica', replicaCheck(db), { critical: false });
  });
  after(async () => { await app?.close(); await db?.close().catch(() => {}); await replica?.destroy(); await primary?.destroy(); });

  it('serves reads from the replica once it has replayed this process\'s writes; writes go to the primary', async () => {
    await waitFor('reads on the replica', () => db.replicaState().readsTo === 'replica' && inRecovery());
    assert.equal(await inRecovery(), true, 'a plain read is answered by the standby');
    await db.query('CREATE TABLE IF NOT EXISTS ops_probe (id int PRIMARY KEY, note text)');
    await db.query('INSERT INTO ops_probe VALUES (1, $1)', ['written']);
    const res = await app.inject('/readyz');
    assert.equal(res.json().checks.replica.status, 'ok');
  });

  it('read-your-write: a read right after a write sees it (from the primary), then reads return to the replica', async () => {
    for (let i = 2; i < 12; i++) {
      await db.query('INSERT INTO ops_probe VALUES ($1, $2)', [i, `row ${i}`]);
      const seen = await db.query<{ note: string }>('SELECT note FROM ops_probe WHERE id = $1', [i]);
      assert.deepEqual([...seen], [{ note: `row ${i}` }], `row ${i} read right after its insert`);
    }
    assert.equal(await inRecovery(), false, 'right after a write, reads go to the primary');
    await waitFor('the replica to replay the writes', async () => await inRecovery());
    const all = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM ops_probe');
    assert.deepEqual([...all], [{ n: 11 }], 'the replica has every row once it serves reads again');
  });

  it('a read that writes (a function with side effects) is refused by the standby and retried on the primary', async () => {
    await waitFor('reads on the replica', () => inRecovery());
    const [row] = await db.query<{ n: number }>(`SELECT ensure_observation_partitions('2031-01-01', '2031-02-15') AS n`);
    assert.ok(Number(row!.n) >= 1, 'partitions created on the primary');
    const [made] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE '%2031%'`);
    assert.ok(made!.n >= 1, 'the next read sees them (read-your-write after a write found by the standby)');
  });

  it('replica stopped: reads fall back to the primary, no 5xx; /readyz says degraded and names it', async () => {
    await waitFor('reads on the replica', () => inRecovery());
    const before = (await app.inject('/api/v1/bas')).statusCode;
    assert.equal(before, 200);
    await replica.stop('immediate');
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await app.inject('/api/v1/bas')).statusCode);
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(await inRecovery(), false);
    await waitFor('the replica marked down', () => db.replicaState().readsTo === 'primary');
    const res = await app.inject('/readyz');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'degraded');
    assert.deepEqual(res.json().failed, ['replica']);
    await replica.start();
    await waitFor('reads back on the replica', () => db.replicaState().readsTo === 'replica', 30_000);
  });

  it('replica unreachable at start: kept configured, reads on the primary, degraded in /readyz and dependency_up, warned naming DATABASE_REPLICA_URL; reads move to it once it answers', async () => {
    await replica.stop('immediate');
    const lines: { level: number; msg: string; err?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => { lines.push(JSON.parse(l) as typeof lines[number]); } });
    const late = await openRoutedDb({ databaseUrl: primary.url, replicaUrl: replica.url, dataDir: ':memory:', pollMs: 100, logger });
    const lateApp = await buildApp({ db: late, logger: pino({ level: 'silent' }), cache: memoryCache() });
    try {
      assert.ok(isRouted(late), 'the replica stays configured');
      lateApp.readiness.add('replica', replicaCheck(late), { critical: false });
      await waitFor('the replica found unreachable', () => late.replicaState().reason !== 'replica not yet checked');
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await lateApp.inject('/api/v1/bas')).statusCode);
      assert.deepEqual([...new Set(statuses)], [200], 'reads served by the primary');
      assert.equal((await late.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r, false);
      const ready = await lateApp.inject('/readyz');
      assert.equal(ready.statusCode, 200);
      assert.equal(ready.json().status, 'degraded');
      assert.deepEqual(ready.json().failed, ['replica']);
      assert.match(ready.json().checks.replica.detail, /DATABASE_REPLICA_URL unreachable/);
      // a scrape alone (nobody asked /readyz) carries the replica's state
      const fresh = await buildApp({ db: late, logger: pino({ level: 'silent' }), cache: memoryCache() });
      fresh.readiness.add('replica', replicaCheck(late), { critical: false });
      assert.match((await fresh.inject('/metrics')).body, /gridpulse_dependency_up\{dependency="replica"\} 0\.5/);
      await fresh.close();
      const warned = lines.filter((l) => l.level === 40);
      assert.equal(warned.length, 1, 'warned once, not at every retry');
      assert.match(warned[0]!.msg, /DATABASE_REPLICA_URL unreachable/);
      assert.doesNotMatch(JSON.stringify(lines), /cannot reach DATABASE_URL/);
      await replica.start();
      await waitFor('reads on the late replica', () => late.replicaState().readsTo === 'replica', 30_000);
      assert.equal((await late.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r, true, 'reads now answered by the standby');
      assert.equal((await lateApp.inject('/readyz')).json().status, 'ready');
      assert.ok(lines.some((l) => l.level === 30 && /DATABASE_REPLICA_URL reachable/.test(l.msg)));
    } finally {
      await lateApp.close();
      await late.close();
    }
  });
});
