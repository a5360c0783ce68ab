import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { testDatabases } from '../../test/support/databases.ts';
import { openDb, PREPARED_TEXTS_MAX, type Db } from './db.ts';

/** Resolves with the next `count` payloads, or rejects after `ms`. */
function collect(count: number, ms = 5_000): { received: string[]; handler: (p: string) => void; done: Promise<string[]> } {
  const received: string[] = [];
  let resolve!: (v: string[]) => void;
  const done = new Promise<string[]>((res, rej) => {
    resolve = res;
    setTimeout(() => rej(new Error(`only ${received.length} of ${count} notifications: ${JSON.stringify(received)}`)), ms).unref();
  });
  return { received, done, handler: (p) => { received.push(p); if (received.length === count) resolve([...received]); } };
}

for (const target of testDatabases({ pgliteWorker: true })) {
  describe(`Db adapter on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); });
    after(async () => { await db.close(); });

    it('delivers a NOTIFY from a committed transaction and never one from a rolled-back transaction', async () => {
      const inbox = collect(2);
      const unlisten = await db.listen('gridpulse_test', inbox.handler);
      await db.transaction(async (tx) => { await tx.query(`SELECT pg_notify('gridpulse_test', $1)`, ['{"bas":["CISO"]}']); });
      await assert.rejects(db.transaction(async (tx) => {
        await tx.query(`SELECT pg_notify('gridpulse_test', 'rolled back')`);
        throw new Error('abort');
      }), /abort/);
      await db.transaction(async (tx) => { await tx.query(`SELECT pg_notify('gridpulse_test', 'second commit')`); });
      // notifications arrive in commit order: had the rolled-back one been sent, it would sit between these two
      assert.deepEqual(await inbox.done, ['{"bas":["CISO"]}', 'second commit']);
      await unlisten();
    });

    it('stops delivering after unlisten, and refuses channel names the two adapters would read differently', async () => {
      const inbox = collect(1);
      const unlisten = await db.listen('gridpulse_off', inbox.handler);
      await db.query(`SELECT pg_notify('gridpulse_off', 'one')`);
      assert.deepEqual(await inbox.done, ['one']);
      await unlisten();
      const control = collect(1);
      const stopControl = await db.listen('gridpulse_control', control.handler);
      await db.query(`SELECT pg_notify('gridpulse_off', 'two')`);
      await db.query(`SELECT pg_notify('gridpulse_control', 'after')`);
      await control.done;
      assert.deepEqual(inbox.received, ['one']);
      await stopControl();
      await assert.rejects(db.listen('GridPulse-Hours', () => {}), /lower-case SQL identifier/);
    });

    it('runs a nested transaction as a savepoint: the inner failure is undone, the outer work kept', async () => {
      await db.query('CREATE TABLE nested_probe (n integer)');
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO nested_probe VALUES (1)');
        await assert.rejects(tx.transaction(async (inner) => {
          await inner.query('INSERT INTO nested_probe VALUES (2)');
          await inner.query('SELECT 1 / 0');
        }), /division by zero/);
        await tx.transaction((inner) => inner.query('INSERT INTO nested_probe VALUES (3)'));
      });
      assert.deepEqual((await db.query<{ n: number }>('SELECT n FROM nested_probe ORDER BY n')).map((r) => r.n), [1, 3]);
    });

    it('copies rows in text format, escaping tabs, newlines and backslashes, with nulls, dates and numbers', async () => {
      await db.query('CREATE TABLE copy_probe (id integer, label text, at timestamptz, x double precision, ok boolean)');
      const at = new Date('2025-07-01T17:00:00.000Z');
      const rows: [number, string | null, Date | null, number | null, boolean][] = [
        [1, 'tab\there', at, 1.5, true],
        [2, 'line\nbreak\r\\N not null', null, -0.25, false],
        [3, null, at, null, true],
        [4, 'ünïcode ⚡', at, 1e-300, false],
      ];
      await db.transaction((tx) => tx.copyInto('copy_probe', ['id', 'label', 'at', 'x', 'ok'], rows));
      const got = await db.query<{ id: number; label: string | null; at: Date | string | null; x: number | null; ok: boolean }>('SELECT * FROM copy_probe ORDER BY id');
      assert.deepEqual(got.map((r) => [r.id, r.label, r.at === null ? null : new Date(r.at).toISOString(), r.x, r.ok]),
        rows.map(([id, label, when, x, ok]) => [id, label, when?.toISOString() ?? null, x, ok]));
    });

    it('rejects a COPY the server refuses, inside a transaction or not, and stays usable', async () => {
      await db.query('CREATE TABLE copy_strict (id integer PRIMARY KEY)');
      await db.query('INSERT INTO copy_strict VALUES (2)');
      await assert.rejects(db.copyInto('copy_strict', ['id'], [[1], [2]]));
      await assert.rejects(db.transaction(async (tx) => {
        await tx.query('INSERT INTO copy_strict VALUES (5)');
        await tx.copyInto('copy_strict', ['id'], [[3], [3]]);
      }));
      const many = Array.from({ length: 100_000 }, (_, i) => [i + 10]);
      await assert.rejects(db.copyInto('copy_strict', ['id'], [[2], ...many]), 'fails while rows are still streaming');
      await db.transaction(async (tx) => {
        await assert.rejects(tx.transaction((sp) => sp.copyInto('copy_strict', ['id'], [[4], [2]])));
        await tx.copyInto('copy_strict', ['id'], [[4]]);
      });
      assert.deepEqual((await db.query<{ id: number }>('SELECT id FROM copy_strict ORDER BY id')).map((r) => r.id), [2, 4]);
    });

    it('an error of the caller\'s own inside a transaction (a refused webhook, a missing file) rolls it back and frees its connection: it is not taken for the database being gone', async () => {
      await db.query('CREATE TABLE own_errors (id integer PRIMARY KEY)');
      const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:443'), { code: 'ECONNREFUSED' }) });
      const missing = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
      for (const own of [refused, missing]) {
        let backend = 0;
        const err = await db.transaction(async (tx) => {
          backend = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid;
          await tx.query('INSERT INTO own_errors VALUES (1)');
          throw own;
        }).then(() => undefined, (e: unknown) => e);
        assert.equal(err, own, 'the caller\'s error, as thrown');
        if (db.kind === 'postgres') {
          const [session] = await db.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [backend]);
          assert.doesNotMatch(session?.state ?? 'gone', /in transaction/, 'the transaction was ended on its connection, not left open');
        }
      }
      await db.transaction(async (tx) => {
        const err = await tx.transaction(async (sp) => { await sp.query('INSERT INTO own_errors VALUES (2)'); throw refused; }).then(() => undefined, (e: unknown) => e);
        assert.equal(err, refused, 'the savepoint rejects with it');
        await tx.query('INSERT INTO own_errors VALUES (3)');
      });
      assert.deepEqual((await db.query<{ id: number }>('SELECT id FROM own_errors ORDER BY id')).map((r) => r.id), [3]);
    });

    it('a row source that fails in the middle of a COPY (a download reset: ECONNRESET) rejects with its error, stores nothing and frees the connection', async () => {
      await db.query('CREATE TABLE source_errors (id integer PRIMARY KEY)');
      const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      function* rows(): Generator<[number]> {
        for (let i = 0; i < 50_000; i++) { if (i === 30_000) throw reset; yield [i]; }
      }
      let backend = 0;
      const err = await db.transaction(async (tx) => {
        backend = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid;
        await tx.copyInto('source_errors', ['id'], rows());
      }).then(() => undefined, (e: unknown) => e);
      assert.equal(err, reset, 'the source\'s error, as thrown');
      if (db.kind === 'postgres') {
        const [session] = await db.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [backend]);
        assert.doesNotMatch(session?.state ?? 'gone', /in transaction/, 'the transaction was ended on its connection, not left open');
      }
      await db.copyInto('source_errors', ['id'], [[1]]);
      assert.deepEqual((await db.query<{ id: number }>('SELECT id FROM source_errors')).map((r) => r.id), [1], 'nothing of the failed COPY, and the Db serves the next');
    });
  });
}

describe('PGlite on its own worker thread (the store of gridpulse start)', () => {
  let db: Db;
  before(async () => { db = await openDb({ dataDir: ':memory:', thread: 'worker' }); });
  after(async () => { await db.close(); });

  it('keeps PostgreSQL error fields, so callers can tell a unique violation from any other failure', async () => {
    await db.query('CREATE TABLE err_probe (id integer PRIMARY KEY, n integer CHECK (n > 0))');
    await db.query('INSERT INTO err_probe VALUES (1, 1)');
    await assert.rejects(db.query('INSERT INTO err_probe VALUES ($1, 1)', [1]),
      (e: Record<string, unknown>) => e.code === '23505' && e.constraint === 'err_probe_pkey' && e.table === 'err_probe' && e instanceof Error);
    await assert.rejects(db.query('INSERT INTO err_probe VALUES (2, -1)'), (e: Record<string, unknown>) => e.code === '23514');
    await assert.rejects(db.query('SELEC 1'), (e: Record<string, unknown>) => e.code === '42601' && /syntax error/.test(String(e.message)));
  });

  it('returns values as PGlite makes them on the main thread (Date, int8, bytes, jsonb, arrays, null)', async () => {
    const local = await openDb({ dataDir: ':memory:', thread: 'main' });
    try {
      await fc.assert(fc.asyncProperty(
        fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.uint8Array({ maxLength: 64 }), fc.jsonValue(), fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 8 }),
        async (at, big, bytes, json, ints) => {
          const sql = 'SELECT $1::timestamptz AS at, $2::int8 AS big, $3::bytea AS bytes, $4::text::jsonb AS json, $5::int4[] AS ints, NULL AS nothing';
          const params = [at, big, bytes, JSON.stringify(json), ints];
          const [there] = await db.query<{ at: Date; bytes: Uint8Array }>(sql, params);
          assert.deepStrictEqual(there, (await local.query(sql, params))[0]);
          assert.ok(there!.at instanceof Date && there!.bytes instanceof Uint8Array);
          assert.equal(there!.at.getTime(), at.getTime());
        }), { numRuns: 40 });
    } finally {
      await local.close();
    }
  });

  it('makes other queries wait for an open transaction, which sees its own uncommitted writes', async () => {
    await db.query('CREATE TABLE session_probe (n integer)');
    const order: string[] = [];
    let outside!: Promise<unknown>;
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO session_probe VALUES (1)');
      outside = db.query<{ c: number }>('SELECT count(*)::int AS c FROM session_probe').then((r) => { order.push(`outside saw ${r[0]!.c}`); });
      await new Promise((r) => setTimeout(r, 50));
      const [mine] = await tx.query<{ c: number }>('SELECT count(*)::int AS c FROM session_probe');
      order.push(`inside saw ${mine!.c}`);
      await tx.query('INSERT INTO session_probe VALUES (2)');
    });
    await outside;
    assert.deepEqual(order, ['inside saw 1', 'outside saw 2']);
  });

  it('rejects a parameter that cannot cross to the thread, a query on a finished transaction and a savepoint in an aborted one, and stays usable', async () => {
    await assert.rejects(db.query('SELECT $1::text', [() => 1]), /cannot be sent/);
    let leaked!: Db;
    await db.transaction(async (tx) => { leaked = tx; });
    await assert.rejects(leaked.query('SELECT 1'), /has ended/);
    await assert.rejects(db.transaction(async (tx) => {
      await assert.rejects(tx.query('SELECT 1 / 0'), (e: Record<string, unknown>) => e.code === '22012');
      // the transaction is aborted: PostgreSQL refuses the savepoint, and the caller hears why
      await tx.transaction((sp) => sp.query('SELECT 1'));
    }), (e: Record<string, unknown>) => e.code === '25P02');
    assert.deepEqual(await db.query('SELECT 2 AS n'), [{ n: 2 }]);
  });

  it('serves timers while a long statement runs, which PGlite on the main thread cannot: the data directory default', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gp-pglite-thread-'));
    const store = await openDb({ dataDir: dir }); // no thread option: a data directory runs on its own thread
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 5);
    try {
      // long enough on any machine to span many 5-ms intervals; on the main thread the WebAssembly call would hold them all
      const t0 = performance.now();
      await store.query('SELECT count(*) FROM generate_series(1, 3000000) g WHERE g % 7 = 3');
      const ms = performance.now() - t0;
      assert.ok(ms > 100, `the statement took only ${ms} ms: too short to tell`);
      assert.ok(ticks >= 5, `only ${ticks} timer ticks in ${Math.round(ms)} ms`);
    } finally {
      clearInterval(timer);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects every call once closed', async () => {
    const other = await openDb({ dataDir: ':memory:', thread: 'worker' });
    await other.close();
    await assert.rejects(other.query('SELECT 1'), /closed/);
  });
});

describe('prepared statements on PostgreSQL (one round trip per execution, a bounded number of texts)', () => {
  const target = testDatabases().find((t) => t.name === 'postgres');
  if (!target) {
    if (process.env.CI) throw new Error('CI runs the storage tests on PostgreSQL: set DATABASE_URL');
    it.skip('needs PostgreSQL (DATABASE_URL)');
    return;
  }
  let db: Db;
  before(async () => { db = await target.open(); });
  after(async () => { await db.close(); });

  const named = (tx: Db, text: string) => tx.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1 AND NOT from_sql', [text]);

  it('runs a parameterized statement as a named statement of its connection, parsed once however often it runs', async () => {
    await db.transaction(async (tx) => {
      const text = 'SELECT $1::int + 1 AS x /* prepared-once */';
      for (let i = 0; i < 5; i++) assert.equal((await tx.query<{ x: number }>(text, [i]))[0]!.x, i + 1);
      assert.equal((await named(tx, text))[0]!.n, 1, 'one named statement for five executions');
    });
  });

  it('prepares at most PREPARED_TEXTS_MAX distinct texts of a pool; later texts still run, unnamed', async () => {
    await db.transaction(async (tx) => {
      const before = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE NOT from_sql'))[0]!.n;
      const texts = Array.from({ length: PREPARED_TEXTS_MAX + 20 }, (_, i) => `SELECT $1::int * ${i} AS x /* bound-${i} */`);
      for (const [i, text] of texts.entries()) assert.equal((await tx.query<{ x: number }>(text, [2]))[0]!.x, 2 * i);
      const after = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE NOT from_sql'))[0]!.n;
      assert.ok(after - before <= PREPARED_TEXTS_MAX, `${after - before} statements named on this connection (at most ${PREPARED_TEXTS_MAX})`);
      assert.equal((await named(tx, texts.at(-1)!))[0]!.n, 0, 'a text past the bound is not named');
      // a text prepared before the bound was reached stays prepared
      assert.equal((await named(tx, 'SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1 AND NOT from_sql'))[0]!.n, 1);
    });
  });
});
