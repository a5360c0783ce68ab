import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { webhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver.ts';
import { migrate } from '../platform/migrate.ts';
import { openDb, type Db } from '../platform/db.ts';
import { PointStore } from '../ingest/store-points.ts';
import { HOUR_MS } from '../grid/time.ts';
import { insertUser } from '../auth/users.ts';
import { createAlert, getAlert, listDeliveries, updateAlert, deleteAlert, listAlerts } from './alert-repository.ts';
import { evaluateAlerts } from './alert-evaluator.ts';
import { startAlertWorker } from './alert-worker.ts';
import { alertRule } from './alert-rules.ts';
import { backoffMs, deliverDue, DEFAULT_OUTBOX, type OutboxOptions } from './webhook-outbox.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER, verifyWebhook } from './webhook-signature.ts';

const logger = pino({ level: 'silent' });
const T0 = Date.parse('2025-06-10T00:00:00Z');
const at = (h: number) => new Date(T0 + h * HOUR_MS);

const outbox = (o: Partial<OutboxOptions> = {}): OutboxOptions => ({ ...DEFAULT_OUTBOX, policy: { allowPrivate: true }, timeoutMs: 2000, random: () => 0, ...o });

/** ERCO demand and day-ahead forecast for hours [0, n): demand = forecast × (1 + excess(h)/100). */
async function seedDemand(db: Db, hours: number[], excess: (h: number) => number) {
  const store = new PointStore(db, logger, 'simulated');
  await store.store(hours.flatMap((h) => [
    { route: 'region' as const, ba: 'ERCO', code: 'DF', ts: at(h), value: 40_000 },
    { route: 'region' as const, ba: 'ERCO', code: 'D', ts: at(h), value: 40_000 * (1 + excess(h) / 100) },
  ]));
}

const rule = (r: unknown) => alertRule.parse(r);

let serial = 0;
/** A user to own alerts (the id is what the repository needs; no password). */
const newUser = async (db: Db) => (await insertUser(db, { email: `alerts-${process.pid}-${++serial}@example.org`, role: 'analyst', passwordHash: null })).id;

for (const target of testDatabases()) {
  describe(`alerts on ${target.name}`, () => {
    let db: Db;
    let hook: WebhookReceiver;
    const u: Record<string, string> = {};
    before(async () => {
      db = await target.open(); await migrate(db); hook = await webhookReceiver();
      for (const name of ['u1', 'u2', 'u3', 'u4', 'alice', 'mallory']) u[name] = await newUser(db);
    });
    after(async () => { await hook.close(); await db.close(); });

    it('fires once per occurrence: a spell of demand above the forecast fires once however many hours it lasts', async () => {
      const a = await createAlert(db, u.u1!, { name: 'ERCO over forecast', rule: rule({ kind: 'demand_above_forecast', ba: 'erco', percent: 5 }), webhookUrl: hook.url, cooldownMinutes: 0 });
      assert.equal(a.rule.ba, 'ERCO');
      const [stored] = await db.query<{ t: string; kind: string }>(`SELECT jsonb_typeof(rule) AS t, rule->>'kind' AS kind FROM alerts WHERE id = $1`, [a.id]);
      assert.deepEqual(stored, { t: 'object', kind: 'demand_above_forecast' }, 'stored as a JSON object, queryable by kind');
      await seedDemand(db, [0, 1, 2, 3], (h) => (h >= 2 ? 8 : 1));
      const first = await evaluateAlerts({ db, logger }, { bas: ['ERCO'], now: at(4) });
      assert.equal(first.fired, 1);
      assert.deepEqual(await evaluateAlerts({ db, logger }, { bas: ['ERCO'], now: at(4) }), { evaluated: 1, fired: 0, repeats: 1, cooldown: 0 });
      await seedDemand(db, [4], () => 9); // the spell goes on: same occurrence
      assert.equal((await evaluateAlerts({ db, logger }, { bas: ['ERCO'], now: at(5) })).repeats, 1);
      await seedDemand(db, [5], () => 2); // spell over: nothing fires
      assert.equal((await evaluateAlerts({ db, logger }, { bas: ['ERCO'], now: at(6) })).fired, 0);
      await seedDemand(db, [6], () => 20); // a new spell: a new occurrence
      assert.equal((await evaluateAlerts({ db, logger }, { bas: ['ERCO'], now: at(7) })).fired, 1);
      const log = await listDeliveries(db, u.u1!, a.id);
      assert.deepEqual(log!.map((d) => d.occurrence), [`demand_above_forecast:${at(6).toISOString()}`, `demand_above_forecast:${at(2).toISOString()}`]);
      await deleteAlert(db, u.u1!, a.id);
    });

    it('holds a new occurrence back during the cool-down, and fires it once the cool-down has passed', async () => {
      const a = await createAlert(db, u.u1!, { name: 'late', rule: rule({ kind: 'data_late', ba: 'ERCO', hours: 2 }), webhookUrl: hook.url, cooldownMinutes: 180 });
      // ERCO's newest demand hour is hour 6 (previous test); it ends at hour 7
      assert.equal((await evaluateAlerts({ db, logger }, { now: at(8) })).fired, 0, 'lag 1 h is not late');
      assert.equal((await evaluateAlerts({ db, logger }, { now: at(10) })).fired, 1);
      await seedDemand(db, [7], () => 0); // data arrives, then stalls again: a new occurrence…
      const held = await evaluateAlerts({ db, logger }, { now: at(11) });
      assert.equal(held.cooldown, 1, '…inside the 3-hour cool-down after the firing at hour 10');
      assert.equal((await evaluateAlerts({ db, logger }, { now: at(13) })).fired, 1);
      assert.equal((await evaluateAlerts({ db, logger }, { now: at(14) })).repeats, 1);
      assert.equal((await getAlert(db, u.u1!, a.id))!.lastFiredAt, at(13).toISOString());
      await deleteAlert(db, u.u1!, a.id);
    });

    it('delivers the body signed with the alert\'s secret: the receiver verifies it; another secret or a changed body does not', async () => {
      hook.got.length = 0;
      hook.answer(204);
      const a = await createAlert(db, u.u2!, { name: 'late ERCO', rule: rule({ kind: 'data_late', ba: 'ERCO', hours: 1 }), webhookUrl: hook.url, cooldownMinutes: 60 });
      assert.match(a.secret, /^whsec_[A-Za-z0-9_-]{43}$/);
      assert.equal((await evaluateAlerts({ db, logger }, { now: at(30) })).fired, 1);
      const pass = await deliverDue({ db, logger }, outbox(), at(30));
      assert.equal(pass.delivered, 1);
      assert.equal(hook.got.length, 1);
      const { headers, body } = hook.got[0]!;
      const sig = { signature: headers[SIGNATURE_HEADER] as string, timestamp: headers[TIMESTAMP_HEADER] as string };
      assert.ok(verifyWebhook(a.secret, sig, body));
      assert.ok(!verifyWebhook(`${a.secret}x`, sig, body));
      assert.ok(!verifyWebhook(a.secret, sig, body.replace('ERCO', 'CISO')));
      assert.ok(!verifyWebhook(a.secret, sig, body, Number(sig.timestamp) + 3600), 'a replay an hour later is refused');
      const payload = JSON.parse(body);
      assert.equal(payload.type, 'alert.fired');
      assert.equal(payload.alert.id, a.id);
      assert.equal(payload.details.newestHour, at(7).toISOString());
      const [entry] = (await listDeliveries(db, u.u2!, a.id))!;
      assert.equal(headers[DELIVERY_HEADER], String(entry!.id));
      assert.equal(entry!.status, 'delivered');
      assert.deepEqual(entry!.tries.map((t) => t.statusCode), [204]);
      assert.equal((await deliverDue({ db, logger }, outbox(), at(31))).delivered, 0, 'a delivered row is not sent again');
      await deleteAlert(db, u.u2!, a.id);
    });

    it('retries with exponential backoff, gives up after the last try, and disables the alert after repeated failures', async () => {
      hook.got.length = 0;
      hook.answer(500);
      const o = outbox({ baseDelayMs: 60_000, maxDelayMs: 600_000, maxAttempts: 3, disableAfter: 4 });
      assert.deepEqual([1, 2, 3, 10].map((n) => backoffMs(n, o)), [30_000, 60_000, 120_000, 300_000]);
      const a = await createAlert(db, u.u3!, { name: 'flaky', rule: rule({ kind: 'data_late', ba: 'ERCO', hours: 1 }), webhookUrl: hook.url, cooldownMinutes: 0 });
      await evaluateAlerts({ db, logger }, { now: at(40) });
      let t = at(40).getTime();
      assert.equal((await deliverDue({ db, logger }, o, new Date(t))).failedAttempts, 1);
      assert.equal((await deliverDue({ db, logger }, o, new Date(t + 29_000))).failedAttempts, 0, 'not due before its backoff');
      t += 31_000;
      assert.equal((await deliverDue({ db, logger }, o, new Date(t))).failedAttempts, 1);
      t += 61_000;
      const third = await deliverDue({ db, logger }, o, new Date(t));
      assert.deepEqual([third.failedAttempts, third.gaveUp, third.disabledAlerts], [1, 1, 0]);
      let [entry] = (await listDeliveries(db, u.u3!, a.id))!;
      assert.equal(entry!.status, 'failed');
      assert.deepEqual(entry!.tries.map((x) => x.statusCode), [500, 500, 500]);
      assert.equal(hook.got.length, 3);
      // the next occurrence's first failure is the 4th in a row: the alert is disabled and says why
      await seedDemand(db, [8], () => 0);
      await evaluateAlerts({ db, logger }, { now: at(50) });
      const fourth = await deliverDue({ db, logger }, o, at(50));
      assert.equal(fourth.disabledAlerts, 1);
      const disabled = (await getAlert(db, u.u3!, a.id))!;
      assert.equal(disabled.status, 'disabled');
      assert.match(disabled.disabledReason!, /4 failed deliveries in a row.*HTTP 500/);
      [entry] = (await listDeliveries(db, u.u3!, a.id))!;
      assert.equal(entry!.status, 'failed');
      await seedDemand(db, [9], () => 0);
      assert.equal((await evaluateAlerts({ db, logger }, { now: at(60) })).evaluated, 0, 'a disabled alert is not evaluated');
      // its owner re-enables it: the failure count starts again
      const again = await updateAlert(db, u.u3!, a.id, { name: 'flaky', rule: a.rule, webhookUrl: hook.url, cooldownMinutes: 0, status: 'active' });
      assert.deepEqual([again!.status, again!.consecutiveFailures, again!.disabledReason], ['active', 0, null]);
      await deleteAlert(db, u.u3!, a.id);
    });

    it('refuses delivery to a private target without the allowance, logging the refusal as a failed try', async () => {
      hook.got.length = 0;
      hook.answer(200);
      const a = await createAlert(db, u.u4!, { name: 'ssrf', rule: rule({ kind: 'data_late', ba: 'ERCO', hours: 1 }), webhookUrl: hook.url, cooldownMinutes: 0 });
      await evaluateAlerts({ db, logger }, { now: at(70) });
      const r = await deliverDue({ db, logger }, outbox({ policy: { allowPrivate: false } }), at(70));
      assert.equal(r.failedAttempts, 1);
      const [entry] = (await listDeliveries(db, u.u4!, a.id))!;
      assert.equal(entry!.tries[0]!.statusCode, null);
      assert.match(entry!.tries[0]!.error!, /refused target.*loopback/);
      assert.equal(hook.got.length, 0);
      await deleteAlert(db, u.u4!, a.id);
    });

    it('announces tomorrow\'s cleanest window from the newest intensity forecast, once per BA-local day', async () => {
      const a = await createAlert(db, u.u1!, { name: 'clean', rule: rule({ kind: 'clean_window_tomorrow', ba: 'ERCO', durationHours: 3 }), webhookUrl: hook.url, cooldownMinutes: 0 });
      const madeAt = at(100); // 2025-06-14T04:00Z = 23:00 on the 13th in Chicago: "tomorrow" is the 14th there
      await db.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ('ERCO', 'intensity', $1, 'test', 'simulated', $1, 1)`, [madeAt]);
      const dip = new Set([118, 119, 120]); // 22:00Z on the 14th to 01:00Z: 17:00–20:00 in Chicago, still the 14th there
      for (let h = 100; h < 160; h++) {
        await db.query(`INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model) VALUES ('ERCO', 'intensity', $1, $2, $3, 0, 999, 'test')`,
          [madeAt, at(h), dip.has(h) ? 100 : 300 + (h % 5)]);
      }
      const later = new Date(madeAt.getTime() + 1_800_000); // still the 13th in Chicago
      const ev = await evaluateAlerts({ db, logger }, { bas: ['PJM'], now: madeAt });
      assert.equal(ev.fired, 1, 'time-driven: evaluated on any change event');
      assert.equal((await evaluateAlerts({ db, logger }, { bas: ['PJM'], now: later })).repeats, 1, 'the same day again: a repeat');
      const [entry] = (await listDeliveries(db, u.u1!, a.id))!;
      assert.equal(entry!.occurrence, 'clean_window_tomorrow:2025-06-14');
      const [row] = await db.query<{ payload: string }>('SELECT payload FROM webhook_deliveries WHERE id = $1', [entry!.id]);
      const { details } = JSON.parse(row!.payload);
      assert.deepEqual([details.start, details.avg], [at(118).toISOString(), 100]);
      await deleteAlert(db, u.u1!, a.id);
    });

    it('evaluates when new hours land: the worker hears the change event, fires and delivers', async () => {
      hook.got.length = 0;
      hook.answer(200);
      const a = await createAlert(db, u.u1!, { name: 'MISO over', rule: rule({ kind: 'demand_above_forecast', ba: 'MISO', percent: 10 }), webhookUrl: hook.url, cooldownMinutes: 60 });
      const worker = await startAlertWorker(db, logger, { policy: { allowPrivate: true }, outbox: { random: () => 0 } });
      try {
        await worker.idle();
        const hourNow = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
        await new PointStore(db, logger, 'simulated').store([1, 2, 3].flatMap((k) => [
          { route: 'region' as const, ba: 'MISO', code: 'DF', ts: new Date(hourNow - k * HOUR_MS), value: 70_000 },
          { route: 'region' as const, ba: 'MISO', code: 'D', ts: new Date(hourNow - k * HOUR_MS), value: 80_000 },
        ]));
        const ours = () => hook.got.filter((g) => JSON.parse(g.body).alert.id === a.id);
        for (let i = 0; i < 200 && ours().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
        await worker.idle();
      } finally {
        await worker.stop();
      }
      const mine = hook.got.filter((g) => JSON.parse(g.body).alert.id === a.id);
      assert.equal(mine.length, 1);
      assert.match(JSON.parse(mine[0]!.body).summary, /MISO demand is 14\.3 % above the day-ahead forecast/);
      await deleteAlert(db, u.u1!, a.id);
    });

    it('keeps each user\'s alerts to themselves: another user\'s id reads, changes and deletes nothing', async () => {
      const mine = await createAlert(db, u.alice!, { name: 'mine', rule: rule({ kind: 'data_late', ba: 'ERCO', hours: 5 }), webhookUrl: hook.url, cooldownMinutes: 60 });
      assert.equal(await getAlert(db, u.mallory!, mine.id), undefined);
      assert.equal(await listDeliveries(db, u.mallory!, mine.id), undefined);
      assert.equal(await updateAlert(db, u.mallory!, mine.id, { name: 'x', rule: mine.rule, webhookUrl: hook.url, cooldownMinutes: 0, status: 'paused' }), undefined);
      assert.equal(await deleteAlert(db, u.mallory!, mine.id), false);
      assert.deepEqual((await listAlerts(db, u.mallory!)).length, 0);
      assert.equal((await getAlert(db, u.alice!, mine.id))!.name, 'mine');
    });
  });
}

describe('the outbox survives a restart (PGlite on disk)', () => {
  it('delivers after reopening the store a firing that was never sent', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gp-alerts-'));
    const hook = await webhookReceiver();
    try {
      let db = await openDb({ dataDir: dir });
      await migrate(db);
      const a = await createAlert(db, await newUser(db), { name: 'late', rule: rule({ kind: 'data_late', ba: 'ERCO', hours: 1 }), webhookUrl: hook.url, cooldownMinutes: 0 });
      await seedDemand(db, [0], () => 0);
      assert.equal((await evaluateAlerts({ db, logger }, { now: at(5) })).fired, 1);
      await db.close(); // the worker stops before delivering
      db = await openDb({ dataDir: dir });
      assert.equal((await deliverDue({ db, logger }, outbox(), at(5))).delivered, 1);
      assert.ok(verifyWebhook(a.secret, { signature: hook.got[0]!.headers[SIGNATURE_HEADER] as string, timestamp: hook.got[0]!.headers[TIMESTAMP_HEADER] as string }, hook.got[0]!.body));
      await db.close();
    } finally {
      await hook.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
