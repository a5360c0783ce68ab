import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { databaseUnavailable, openDb, type Db } from '../src/platform/db.ts';
import { TcpProxy } from './support/tcp-proxy.ts';

/**
 * Every path that streams into a PostgreSQL connection (copyInto, copyTextInto, both inside a transaction, a
 * savepoint, or on their own) must fail cleanly when the connection is cut under it: the promise rejects (no
 * uncaught exception, no hang), nothing of the cut transaction is stored, and the same Db serves the retry.
 * The cut is made by a TCP proxy between the Db and the server, from inside the row source, at chosen points.
 */
const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;

describe('a connection cut while streaming into PostgreSQL', { skip: !url && !process.env.CI ? 'DATABASE_URL not set' : false, timeout: 120_000 }, () => {
  let proxy: TcpProxy;
  let db: Db;
  let schema: string;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => { uncaught.push(err); };

  before(async () => {
    assert.ok(url, 'CI runs this against PostgreSQL: set DATABASE_URL');
    const target = new URL(url);
    schema = `cut_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE SCHEMA ${schema}`);
    await admin.end();
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const port = await proxy.start();
    target.host = `127.0.0.1:${port}`;
    target.searchParams.set('options', `-c search_path=${schema}`);
    db = await openDb({ databaseUrl: target.toString(), dataDir: ':memory:' });
    await db.query('CREATE TABLE cut_probe (id integer PRIMARY KEY, label text)');
    process.on('uncaughtException', onUncaught);
  });

  after(async () => {
    process.off('uncaughtException', onUncaught);
    await db?.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
    await db?.close();
    await proxy?.stop();
  });

  const count = async () => Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM cut_probe'))[0]!.n);
  /** rows [from, from + n), cutting every connection after `cutAt` of them have been handed to the COPY */
  function* rows(from: number, n: number, cutAt: number): Generator<[number, string]> {
    for (let i = 0; i < n; i++) {
      if (i === cutAt) proxy.cut();
      yield [from + i, `row ${from + i} ${'x'.repeat(40)}`];
    }
  }
  async function* textChunks(from: number, n: number, cutAt: number): AsyncGenerator<string> {
    let chunk = '';
    for (const [id, label] of rows(from, n, cutAt)) {
      chunk += `${id}\t${label}\n`;
      if (chunk.length > 16_384) { yield chunk; chunk = ''; await new Promise((r) => setImmediate(r)); }
    }
    if (chunk) yield chunk;
  }
  /** Retries `write` until it is acknowledged, as the API's clients and the gateway do; returns the failures. */
  async function untilAcknowledged(write: (attempt: number) => Promise<void>): Promise<unknown[]> {
    const failures: unknown[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        await Promise.race([write(attempt), new Promise((_, reject) => setTimeout(() => reject(new Error('hung: no answer within 20 s')), 20_000).unref())]);
        return failures;
      } catch (err) {
        assert.doesNotMatch(String(err), /hung/);
        failures.push(err);
        assert.ok(attempt < 20, `never acknowledged: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  const N = 60_000;
  const cases: Array<{ name: string; cutAt: number; write: (from: number, cutAt: number) => Promise<void> }> = [
    { name: 'copyInto in a transaction, cut early', cutAt: 10, write: (from, cutAt) => db.transaction((tx) => tx.copyInto('cut_probe', ['id', 'label'], rows(from, N, cutAt))) },
    { name: 'copyInto in a transaction, cut mid-stream', cutAt: N / 2, write: (from, cutAt) => db.transaction((tx) => tx.copyInto('cut_probe', ['id', 'label'], rows(from, N, cutAt))) },
    { name: 'copyInto on its own, cut at the last row', cutAt: N - 1, write: (from, cutAt) => db.copyInto('cut_probe', ['id', 'label'], rows(from, N, cutAt)) },
    { name: 'copyInto in a savepoint, then more work, cut mid-stream', cutAt: N / 3, write: (from, cutAt) => db.transaction(async (tx) => {
      await tx.query('SELECT 1');
      await tx.transaction((sp) => sp.copyInto('cut_probe', ['id', 'label'], rows(from, N, cutAt)));
      await tx.query('SELECT count(*) FROM cut_probe');
    }) },
    { name: 'copyTextInto in a transaction, cut mid-stream', cutAt: N / 2, write: (from, cutAt) => db.transaction((tx) => tx.copyTextInto('cut_probe', ['id', 'label'], textChunks(from, N, cutAt))) },
    { name: 'copyTextInto on its own, cut early', cutAt: 100, write: (from, cutAt) => db.copyTextInto('cut_probe', ['id', 'label'], textChunks(from, N, cutAt)) },
  ];

  cases.forEach((c, k) => {
    it(`${c.name}: rejects, stores nothing, and the retry stores every row once`, async () => {
      const before = await count();
      const from = k * N;
      // first attempt cut; the retries are not
      const failures = await untilAcknowledged((attempt) => c.write(from, attempt === 0 ? c.cutAt : Number.POSITIVE_INFINITY));
      assert.ok(failures.length >= 1, 'the cut attempt failed');
      assert.ok(failures.every(databaseUnavailable), `failures read as a lost connection: ${failures.map(String).join('; ')}`);
      assert.equal(await count(), before + N, 'exactly the batch, once');
      const [range] = await db.query<{ lo: number; hi: number }>('SELECT min(id) AS lo, max(id) AS hi FROM cut_probe WHERE id >= $1 AND id < $2', [from, from + N]);
      assert.deepEqual({ ...range }, { lo: from, hi: from + N - 1 });
      assert.deepEqual(uncaught, [], 'no uncaught exception from the driver');
    });
  });

  it('a statement refused by the server is not taken for a lost connection, and the transaction stays usable', async () => {
    await db.query('INSERT INTO cut_probe VALUES (-1, $1)', ['dup']);
    await db.transaction(async (tx) => {
      const err = await tx.transaction((sp) => sp.copyInto('cut_probe', ['id', 'label'], [[-2, 'a'], [-1, 'dup again']])).catch((e: unknown) => e);
      assert.ok(err instanceof Error, 'the unique violation rejects');
      assert.equal(databaseUnavailable(err), false);
      await tx.query('INSERT INTO cut_probe VALUES (-3, $1)', ['after']);
    });
    assert.deepEqual((await db.query<{ id: number }>('SELECT id FROM cut_probe WHERE id < 0 ORDER BY id')).map((r) => r.id), [-3, -1]);
  });
});
