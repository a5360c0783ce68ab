import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { testDatabases } from '../support/databases.ts';
import { openTestApp } from '../support/app.ts';
import { signIn } from '../support/auth.ts';
import { formCredentials } from '../support/form-post.ts';
import { needs } from './support/availability.ts';
import type { Db } from '../../src/platform/db.ts';
import { createClient } from '../../src/auth/client-credentials.ts';
import { hourStarts } from '../../src/fleet/markets/flexibility.ts';
import { SimulatedDayAheadMarket } from '../../src/fleet/markets/market-adapter.ts';
import { runDayAhead, settleRun } from '../../src/fleet/markets/market-run.ts';
import { simulateDelivery, simulatedFleet } from '../../src/fleet/markets/simulated-day.ts';

const target = testDatabases()[0]!;

describe('market and OpenADR pages (operator)', needs({}), () => {
  let db: Db;
  let app: FastifyInstance;
  let cookie: string;
  const host = 'gridpulse.test';
  before(async () => {
    ({ db, app } = await openTestApp(target));
    const who = await signIn(app, db, 'operator');
    const form = await formCredentials(app, '/signin');
    const res = await app.inject({
      method: 'POST', url: '/signin', headers: { host, origin: `http://${host}`, cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ csrf: form.csrf, email: who.email, password: who.password }).toString(),
    });
    const session = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('gp_session='))!;
    cookie = `${form.cookie}; ${session.split(';')[0]}`;
  });
  after(async () => { await app.close(); await db.close(); });

  it('/markets lists a settled run and its hours: awards, devices dispatched, delivery', async () => {
    const dayStart = new Date('2030-01-01T00:00:00Z');
    const prices = new Map(hourStarts(dayStart, 24).map((h, i) => [h, i < 6 ? 10 : i >= 17 && i < 21 ? 200 : 50]));
    const devices = simulatedFleet({ devices: 40, seed: 4 });
    const market = new SimulatedDayAheadMarket(prices);
    const run = await runDayAhead({ db, logger: pino({ level: 'silent' }), market }, { dayStart, devices, forecast: prices, node: 'TEST NODE' });
    await settleRun({ db, market }, run.runId, simulateDelivery(devices, run.awards, { devices: 40, seed: 4, offlineShare: 0 }).samples);
    const res = await app.inject({ url: '/markets', headers: { host, cookie } });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /2030-01-01/);
    assert.match(res.body, /TEST NODE/);
    assert.match(res.body, /Run (<!-- -->)?\d+/);
    assert.match(res.body, /settled/);
    const soldHour = run.awards.find((a) => a.netMw > 0)!;
    assert.ok(res.body.includes(`${new Date(soldHour.hour).toISOString().slice(0, 10)} ${new Date(soldHour.hour).toISOString().slice(11, 16)} UTC`));
  });

  it('/openadr shows programs and events created through the VTN', async () => {
    const { client, clientSecret } = await createClient(db, { name: 'utility', kind: 'bl' });
    const tok = await app.inject({ method: 'POST', url: '/openadr/3.0.1/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: clientSecret }).toString() });
    const headers = { authorization: `Bearer ${tok.json().access_token}` };
    const prog = (await app.inject({ method: 'POST', url: '/openadr/3.0.1/programs', headers, payload: { programName: 'Summer peak pricing', retailerName: 'ACME' } })).json();
    const ev = await app.inject({ method: 'POST', url: '/openadr/3.0.1/events', headers, payload: {
      programID: prog.id, eventName: 'heat wave prices', payloadDescriptors: [{ payloadType: 'PRICE', units: 'KWH', currency: 'USD' }],
      intervalPeriod: { start: '2030-07-01T20:00:00Z', duration: 'PT1H' }, intervals: [{ id: 0, payloads: [{ type: 'PRICE', values: [0.75] }] }] } });
    assert.equal(ev.statusCode, 201);
    const res = await app.inject({ url: '/openadr', headers: { host, cookie } });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /Summer peak pricing/);
    assert.match(res.body, /heat wave prices/);
    assert.match(res.body, /PRICE 0\.75/);
  });
});
