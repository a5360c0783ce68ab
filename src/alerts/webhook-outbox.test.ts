import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { webhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { insertUser } from '../auth/users.ts';
import { createAlert, listDeliveries, updateAlert } from './alert-repository.ts';
import { alertRule } from './alert-rules.ts';
import { deliverDue, DEFAULT_OUTBOX, enqueueDelivery, type OutboxOptions } from './webhook-outbox.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from './webhook-signature.ts';

const logger = pino({ level: 'silent' });
const T0 = Date.parse('2026-03-01T00:00:00Z');
const outbox = (o: Partial<OutboxOptions> = {}): OutboxOptions => ({ ...DEFAULT_OUTBOX, policy: { allowPrivate: true }, timeoutMs: 2000, random: () => 0, ...o });
const rule = alertRule.parse({ kind: 'data_late', ba: 'ERCO', hours: 1 });

let serial = 0;
const newUser = async (db: Db) => (await insertUser(db, { email: `outbox-${process.pid}-${++serial}@example.org`, role: 'analyst', passwordHash: null })).id;

const triesOf = async (db: Db, id: number | string) =>
  [...await db.query<{ attempt: number; status_code: number | null }>('SELECT attempt, status_code FROM webhook_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt', [id])];

for (const target of testDatabases()) {
  describe(`one webhook outbox for alerts and OpenADR callbacks, on ${target.name}`, () => {
    let db: Db;
    let alerts: WebhookReceiver;
    let callbacks: WebhookReceiver;
    before(async () => {
      db = await target.open(); await migrate(db);
      alerts = await webhookReceiver('/alerts');
      callbacks = await webhookReceiver('/callbacks');
    });
    after(async () => { await alerts.close(); await callbacks.close(); await db.close(); });

    it('one pass sends both kinds: the alert\'s signed with its secret, the callback unsigned with its bearer token; every try is logged', async () => {
      const a = await createAlert(db, await newUser(db), { name: 'both', rule, webhookUrl: alerts.url, cooldownMinutes: 0 });
      const now = new Date(T0);
      await enqueueDelivery(db, { kind: 'alert', alertId: a.id, occurrence: 'o1', payload: '{"type":"alert.fired"}', at: now });
      await enqueueDelivery(db, { kind: 'openadr_subscription', subscriptionId: 'sub-1', callbackUrl: callbacks.url, bearerToken: 'tok-1', payload: '{"objectType":"EVENT"}' });
      const pass = await deliverDue({ db, logger }, outbox(), new Date(Date.now() + 1000));
      assert.deepEqual(pass, { delivered: 2, failedAttempts: 0, gaveUp: 0, disabledAlerts: 0 });

      const [sent] = alerts.got;
      assert.ok(verifyWebhook(a.secret, { signature: sent!.headers[SIGNATURE_HEADER] as string, timestamp: sent!.headers[TIMESTAMP_HEADER] as string }, sent!.body));
      assert.equal(sent!.headers.authorization, undefined);
      const [callback] = callbacks.got;
      assert.equal(callback!.headers.authorization, 'Bearer tok-1');
      assert.equal(callback!.headers[SIGNATURE_HEADER], undefined, 'OpenADR callbacks are not signed');
      assert.equal(callback!.body, '{"objectType":"EVENT"}');

      const rows = await db.query<{ id: string; kind: string; status: string }>('SELECT id, kind, status FROM webhook_deliveries WHERE id IN ($1, $2) ORDER BY id',
        [Number(sent!.headers[DELIVERY_HEADER]), Number(callback!.headers[DELIVERY_HEADER])]);
      assert.deepEqual(rows.map((r) => [r.kind, r.status]), [['alert', 'delivered'], ['openadr_subscription', 'delivered']], 'the delivery header names each row');
      for (const r of rows) assert.deepEqual(await triesOf(db, r.id), [{ attempt: 1, status_code: 200 }]);
    });

    it('a failing OpenADR callback backs off and gives up like an alert\'s delivery, and counts against no alert', async (t) => {
      callbacks.answer(503);
      t.after(() => callbacks.answer(200));
      const a = await createAlert(db, await newUser(db), { name: 'bystander', rule, webhookUrl: alerts.url, cooldownMinutes: 0 });
      const o = outbox({ baseDelayMs: 60_000, maxAttempts: 2, disableAfter: 1 });
      await enqueueDelivery(db, { kind: 'openadr_subscription', subscriptionId: 'sub-2', callbackUrl: callbacks.url, bearerToken: null, payload: '{}' });
      const start = Date.now() + 1000;
      assert.deepEqual(await deliverDue({ db, logger }, o, new Date(start)), { delivered: 0, failedAttempts: 1, gaveUp: 0, disabledAlerts: 0 });
      assert.equal((await deliverDue({ db, logger }, o, new Date(start + 29_000))).failedAttempts, 0, 'not due before its backoff (60 s × 0.5)');
      const last = await deliverDue({ db, logger }, o, new Date(start + 31_000));
      assert.deepEqual(last, { delivered: 0, failedAttempts: 1, gaveUp: 1, disabledAlerts: 0 });
      const [row] = await db.query<{ id: string; status: string; attempts: number; last_error: string }>(
        `SELECT id, status, attempts, last_error FROM webhook_deliveries WHERE subscription_id = 'sub-2'`);
      assert.deepEqual([row!.status, row!.attempts, row!.last_error], ['failed', 2, 'HTTP 503']);
      assert.deepEqual(await triesOf(db, row!.id), [{ attempt: 1, status_code: 503 }, { attempt: 2, status_code: 503 }]);
      assert.equal(callbacks.got.at(-1)!.headers.authorization, undefined, 'no bearer token given, none sent');
      const [alert] = await db.query<{ status: string; consecutive_failures: number }>('SELECT status, consecutive_failures FROM alerts WHERE id = $1', [a.id]);
      assert.deepEqual(alert, { status: 'active', consecutive_failures: 0 });
    });

    it('holds a paused alert\'s deliveries back, not the OpenADR callbacks queued beside them', async () => {
      const owner = await newUser(db);
      const a = await createAlert(db, owner, { name: 'paused', rule, webhookUrl: alerts.url, cooldownMinutes: 0 });
      await updateAlert(db, owner, a.id, { name: 'paused', rule, webhookUrl: alerts.url, cooldownMinutes: 0, status: 'paused' });
      const now = new Date(Date.now() + 1000);
      await enqueueDelivery(db, { kind: 'alert', alertId: a.id, occurrence: 'held', payload: '{}', at: new Date(T0) });
      await enqueueDelivery(db, { kind: 'openadr_subscription', subscriptionId: 'sub-3', callbackUrl: callbacks.url, bearerToken: null, payload: '{}' });
      assert.equal((await deliverDue({ db, logger }, outbox(), now)).delivered, 1);
      assert.deepEqual((await listDeliveries(db, owner, a.id))!.map((d) => d.status), ['pending']);
      await updateAlert(db, owner, a.id, { name: 'paused', rule, webhookUrl: alerts.url, cooldownMinutes: 0, status: 'active' });
      assert.equal((await deliverDue({ db, logger }, outbox(), now)).delivered, 1);
      assert.deepEqual((await listDeliveries(db, owner, a.id))!.map((d) => d.status), ['delivered']);
    });

    it('refuses a row of one kind without its target (the table\'s checks)', async () => {
      await assert.rejects(db.query(`INSERT INTO webhook_deliveries (kind, payload) VALUES ('alert', '{}')`), /webhook_deliveries_alert_target/);
      await assert.rejects(db.query(`INSERT INTO webhook_deliveries (kind, subscription_id, payload) VALUES ('openadr_subscription', 's', '{}')`), /webhook_deliveries_openadr_target/);
      await assert.rejects(db.query(`INSERT INTO webhook_deliveries (kind, payload) VALUES ('sms', '{}')`), /check constraint/);
    });
  });

  describe(`migration 0040 moves both old outboxes into webhook_deliveries, on ${target.name}`, () => {
    let db: Db;
    let hook: WebhookReceiver;
    before(async () => {
      db = await target.open();
      await migrate(db, { before: '0040' });
      hook = await webhookReceiver();
    });
    after(async () => { await hook.close(); await db.close(); });

    it('keeps alert delivery ids, logs and attempts, moves the callbacks, and the previous release\'s statements keep working on the views', async () => {
      const owner = await newUser(db);
      const a = await createAlert(db, owner, { name: 'old', rule, webhookUrl: hook.url, cooldownMinutes: 0 });
      const old = new Date(T0);
      const [done] = await db.query<{ id: string }>(`INSERT INTO alert_deliveries (alert_id, occurrence, payload, status, attempts, finished_at)
                                                      VALUES ($1, 'o-done', '{"n":1}', 'delivered', 2, $2) RETURNING id`, [a.id, old]);
      await db.query(`INSERT INTO alert_delivery_attempts (delivery_id, attempt, status_code, error, duration_ms) VALUES ($1, 1, 500, 'HTTP 500', 7), ($1, 2, 200, NULL, 5)`, [done!.id]);
      const [pending] = await db.query<{ id: string }>(`INSERT INTO alert_deliveries (alert_id, occurrence, payload, next_attempt_at) VALUES ($1, 'o-pending', '{"n":2}', $2) RETURNING id`, [a.id, old]);
      await db.query(`INSERT INTO openadr_notifications (subscription_id, callback_url, bearer_token, payload, next_attempt_at) VALUES ('sub-old', $1, 'tok-old', '{"n":3}', $2)`, [hook.url, old]);

      assert.deepEqual(await migrate(db, { before: '0041' }), ['0040_webhook_outbox.sql']);
      const log = (await listDeliveries(db, owner, a.id))!;
      assert.deepEqual(log.map((d) => [d.id, d.occurrence, d.status]), [[Number(pending!.id), 'o-pending', 'pending'], [Number(done!.id), 'o-done', 'delivered']]);
      assert.deepEqual(log[1]!.tries.map((t) => [t.attempt, t.statusCode, t.durationMs]), [[1, 500, 7], [2, 200, 5]]);
      const [moved] = await db.query<{ kind: string; bearer_token: string; payload: string; status: string }>(
        `SELECT kind, bearer_token, payload, status FROM webhook_deliveries WHERE subscription_id = 'sub-old'`);
      assert.deepEqual(moved, { kind: 'openadr_subscription', bearer_token: 'tok-old', payload: '{"n":3}', status: 'pending' });

      // the pending ones go out from the new table, the alert's under the id it had
      const pass = await deliverDue({ db, logger }, outbox(), new Date(Date.now() + 1000));
      assert.equal(pass.delivered, 2);
      assert.deepEqual(hook.got.map((g) => [g.body, g.headers.authorization ?? null]).sort(), [['{"n":2}', null], ['{"n":3}', 'Bearer tok-old']]);
      assert.ok(hook.got.some((g) => g.headers[DELIVERY_HEADER] === String(pending!.id)));

      // the previous image's statements (src/alerts/webhook-outbox.ts and src/openadr/openadr-notifier.ts before 0040)
      const now = new Date(Date.now() + 2000);
      const [queued] = await db.query<{ id: string }>('INSERT INTO alert_deliveries (alert_id, occurrence, payload, next_attempt_at) VALUES ($1, $2, $3, $4) RETURNING id',
        [a.id, 'o-by-old-image', '{"n":4}', now]);
      await db.query('INSERT INTO openadr_notifications (subscription_id, callback_url, bearer_token, payload) VALUES ($1, $2, $3, $4)', ['sub-by-old', hook.url, null, '{"n":5}']);
      const claimedByOld = await db.query<{ id: string; webhook_url: string }>(
        `UPDATE alert_deliveries d SET next_attempt_at = $2::timestamptz + make_interval(secs => $3)
           FROM alerts a
          WHERE d.id IN (SELECT d2.id FROM alert_deliveries d2 JOIN alerts a2 ON a2.id = d2.alert_id AND a2.status = 'active'
                          WHERE d2.status = 'pending' AND d2.next_attempt_at <= $2 ORDER BY d2.next_attempt_at, d2.id LIMIT $1 FOR UPDATE OF d2 SKIP LOCKED)
            AND a.id = d.alert_id
          RETURNING d.id, d.alert_id, d.payload, d.attempts, a.webhook_url, a.secret`, [20, now, 120]);
      assert.deepEqual(claimedByOld.map((r) => [String(r.id), r.webhook_url]), [[String(queued!.id), hook.url]]);
      await db.query('INSERT INTO alert_delivery_attempts (delivery_id, attempt, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)', [queued!.id, 1, now, 200, null, 3]);
      await db.query(`UPDATE alert_deliveries SET status = 'delivered', attempts = $2, last_status_code = $3, last_error = NULL, finished_at = $4 WHERE id = $1`, [queued!.id, 1, 200, now]);
      const claimedCallbacks = await db.query<{ subscription_id: string }>(
        `UPDATE openadr_notifications SET next_attempt_at = $2::timestamptz + make_interval(secs => $3)
          WHERE id IN (SELECT id FROM openadr_notifications WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
          RETURNING id, callback_url, bearer_token, payload, attempts, subscription_id`, [20, now, 120]);
      assert.deepEqual(claimedCallbacks.map((r) => r.subscription_id), ['sub-by-old']);
      const rows = [...await db.query<{ kind: string; status: string; tries: number }>(
        `SELECT kind, status, (SELECT count(*)::integer FROM webhook_delivery_attempts t WHERE t.delivery_id = d.id) AS tries
           FROM webhook_deliveries d WHERE occurrence = 'o-by-old-image' OR subscription_id = 'sub-by-old' ORDER BY id`)];
      assert.deepEqual(rows, [{ kind: 'alert', status: 'delivered', tries: 1 }, { kind: 'openadr_subscription', status: 'pending', tries: 0 }]);
    });
  });
}
