import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import type { Db } from './db.ts';

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

for (const target of testDatabases()) {
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
  });
}
