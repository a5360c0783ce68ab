import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { PointStore } from '../src/ingest/store-points.ts';
import { createAlert } from '../src/alerts/alert-repository.ts';
import { insertUser } from '../src/auth/users.ts';
import { alertRule } from '../src/alerts/alert-rules.ts';
import { evaluateAlerts } from '../src/alerts/alert-evaluator.ts';
import { deliverDue, DEFAULT_OUTBOX, postWebhook } from '../src/alerts/webhook-outbox.ts';
import { loadBaHours } from '../src/analytics/shared/hourly.ts';
import { envInt, fmt, openEngineDb, printTable, timed } from './support.ts';

const logger = pino({ level: 'silent' });
const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 5, 1);
const BAS = ['CISO', 'ERCO', 'PJM', 'MISO', 'SWPP', 'NYIS', 'ISNE', 'BPAT', 'PACE', 'DUK'];

/**
 * Alerts: (1) evaluating ALERTS_N demand-above-forecast alerts on one change event naming every BA, against
 * the reference of the data reads alone (one loadBaHours per alert, what the rules read); (2) draining
 * ALERTS_DELIVERIES webhook deliveries through the durable outbox (claim, sign, POST, attempt log) against
 * the reference of the same number of signed POSTs to the same local receiver with nothing recorded.
 */
export async function benchAlerts(): Promise<void> {
  const n = envInt('ALERTS_N', 200);
  const deliveries = envInt('ALERTS_DELIVERIES', 500);
  const { db, drop } = await openEngineDb('bench_alerts');
  const server = http.createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(204).end()); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  try {
    const store = new PointStore(db, logger, 'simulated');
    await store.store(BAS.flatMap((ba) => Array.from({ length: 168 }, (_, h) => [
      { route: 'region' as const, ba, code: 'DF', ts: new Date(T0 + h * HOUR), value: 20_000 },
      { route: 'region' as const, ba, code: 'D', ts: new Date(T0 + h * HOUR), value: 20_000 * (h % 24 < 6 ? 1.2 : 1) },
    ]).flat()));
    const owners: string[] = [];
    for (let i = 0; i < 50; i++) owners.push((await insertUser(db, { email: `bench-alerts-${i}@example.org`, role: 'analyst', passwordHash: null })).id);
    for (let i = 0; i < n; i++) {
      await createAlert(db, owners[i % 50]!, { name: `a${i}`, rule: alertRule.parse({ kind: 'demand_above_forecast', ba: BAS[i % BAS.length], percent: 10 }), webhookUrl: url, cooldownMinutes: 0 });
    }
    const now = new Date(T0 + 149.5 * HOUR); // the newest hour read is 149 (05:00), inside a 6-hour spell above the forecast
    const evaluation = await timed(() => evaluateAlerts({ db, logger }, { bas: BAS, now }));
    const reads = await timed(async () => {
      for (let i = 0; i < n; i++) await loadBaHours(db, BAS[i % BAS.length]!, new Date(now.getTime() - 168 * HOUR), new Date(now.getTime() + HOUR), ['demand', 'forecast']);
    });
    const repeat = await timed(() => evaluateAlerts({ db, logger }, { bas: BAS, now }));

    // top the outbox up to `deliveries` pending rows
    await db.query(`INSERT INTO webhook_deliveries (kind, alert_id, occurrence, payload, next_attempt_at)
                    SELECT 'alert', a.id, 'bench:' || g, '{"type":"alert.fired","bench":' || g || '}', $2
                      FROM generate_series(1, greatest(0, $1::integer - (SELECT count(*)::integer FROM webhook_deliveries WHERE status = 'pending'))) g
                      CROSS JOIN LATERAL (SELECT id FROM alerts ORDER BY id LIMIT 1) a`, [deliveries, now]);
    const options = { ...DEFAULT_OUTBOX, policy: { allowPrivate: true }, batch: 50 };
    let sent = 0;
    const outbox = await timed(async () => {
      for (;;) {
        const r = await deliverDue({ db, logger }, options, now);
        if (r.delivered + r.failedAttempts === 0) break;
        sent += r.delivered;
      }
    });
    const plain = await timed(async () => {
      for (let i = 0; i < deliveries; i++) await postWebhook(url, `{"type":"alert.fired","bench":${i}}`, 'whsec_bench', i, options);
    });
    printTable(`Alerts on ${db.kind}: evaluation and webhook delivery`, ['work', 'count', 'time ms', 'per item ms', 'reference', 'reference ms', 'ratio'], [
      [`evaluate ${n} demand-above-forecast alerts on one change event (first: all fire)`, `${evaluation.result.fired} fired`, fmt(evaluation.ms), fmt(evaluation.ms / n, 2),
        `${n} reads of the hours the rules read`, fmt(reads.ms), fmt(evaluation.ms / reads.ms, 2)],
      ['the same again (all repeats: once per occurrence)', `${repeat.result.repeats} repeats`, fmt(repeat.ms), fmt(repeat.ms / n, 2), '', fmt(reads.ms), fmt(repeat.ms / reads.ms, 2)],
      [`outbox: ${deliveries} signed deliveries, each claimed and logged`, `${sent} delivered`, fmt(outbox.ms), fmt(outbox.ms / Math.max(1, sent), 2),
        `${deliveries} signed POSTs, nothing stored`, fmt(plain.ms), fmt(outbox.ms / plain.ms, 2)],
    ]);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await drop();
    await db.close();
  }
}
