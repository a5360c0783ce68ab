import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../support/databases.ts';
import { openFleetApp, provision, reportSoc, type FleetTestApp } from './fleet-support.ts';
import { replanFleet } from '../../src/fleet/optimizer/mpc.ts';
import { fleetIssuer } from '../../src/fleet/optimizer/fleet-issuer.ts';
import { plan } from '../../src/fleet/optimizer/lp.ts';
import { openadrBearer } from '../support/openadr.ts';
import { FLEET_REPORT_CLIENT, reportEndedEvents } from '../../src/openadr/event-report-job.ts';
import type { ScheduleInterval } from '../../src/fleet/messages.ts';

const V = '/openadr/3.0.1';
const HOUR = 3_600_000;
const logger = pino({ level: 'silent' });

/** The interval of a schedule covering an instant. */
const at = (intervals: readonly ScheduleInterval[], ms: number) => intervals.find((i) => Date.parse(i.start) <= ms && ms < Date.parse(i.end));

for (const target of testDatabases()) {
  describe(`OpenADR 3 events as optimizer inputs, end to end (${target.name})`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target); });
    after(async () => { await t.app.close(); await t.db.close(); });

    it('a PRICE event created through the VTN changes the device\'s next schedule version; a changed event (a setpoint) re-plans again; wrong scopes are refused', async () => {
      const dev = await provision(t, { id: 'adr-bat-1', capacityKwh: 10, maxChargeKw: 4, maxDischargeKw: 4, reserveSocPct: 10, baCode: 'PJM' });
      await reportSoc(t, dev, 50);
      // a flat tariff crediting exports at the same price: no spread, nothing to gain by charging
      const put = await t.app.inject({ method: 'PUT', url: '/api/v1/devices/adr-bat-1/tariff', headers: t.operator, payload: { tariff: { kind: 'flat', price: 0.15, exportCredit: { kind: 'same' } } } });
      assert.equal(put.statusCode, 200, put.body);
      const issue = fleetIssuer(t.db, t.bus, logger, { now: t.clock.now });
      const replan = () => replanFleet({ db: t.db, logger, issue, plan }, new Date(t.clock.now()));
      assert.deepEqual(await replan(), { planned: 1, unchanged: 0, noPrices: 0, outranked: 0, failed: 0, fallbacks: 0 });
      const v1 = t.bus.forDevice('adr-bat-1').at(-1)!;
      assert.ok(v1.intervals.every((i) => i.action !== 'charge'), `flat prices: ${JSON.stringify(v1.intervals)}`);
      assert.equal((await replan()).unchanged, 1, 'nothing changed: no re-plan');

      const bl = (await openadrBearer(t.app, t.db, 'bl')).headers;
      const prog = await t.app.inject({ method: 'POST', url: `${V}/programs`, headers: bl, payload: { programName: 'utility prices', targets: [{ type: 'BALANCING_AUTHORITY', values: ['PJM'] }] } });
      assert.equal(prog.statusCode, 201, prog.body);
      const h0 = Math.floor(t.clock.now() / HOUR) * HOUR;
      // $/kWh: three cheap hours from +2 h, three dear ones from +6 h
      const prices = [0.15, 0.15, 0.01, 0.01, 0.01, 0.15, 0.9, 0.9, 0.9];
      const event = {
        programID: prog.json().id, eventName: 'price signal', payloadDescriptors: [{ payloadType: 'PRICE', units: 'KWH', currency: 'USD' }],
        intervalPeriod: { start: new Date(h0).toISOString(), duration: 'PT1H' }, targets: [{ type: 'RESOURCE_NAME', values: ['adr-bat-1'] }],
        intervals: prices.map((p, id) => ({ id, payloads: [{ type: 'PRICE', values: [p] }] })),
      };
      // refused: a VEN's token (no write_events), a BL token narrowed to read_all, no token at all; nothing is stored
      const ven = (await openadrBearer(t.app, t.db, 'ven')).headers;
      assert.equal((await t.app.inject({ method: 'POST', url: `${V}/events`, headers: ven, payload: event })).statusCode, 403);
      assert.equal((await t.app.inject({ method: 'POST', url: `${V}/events`, headers: (await openadrBearer(t.app, t.db, 'bl', { scope: 'read_all' })).headers, payload: event })).statusCode, 403);
      assert.equal((await t.app.inject({ method: 'POST', url: `${V}/events`, payload: event })).statusCode, 401);
      t.clock.advance(5 * 60_000);
      assert.equal((await replan()).unchanged, 1, 'refused events change nothing');

      const created = await t.app.inject({ method: 'POST', url: `${V}/events`, headers: bl, payload: event });
      assert.equal(created.statusCode, 201, created.body);
      const eventId = created.json<{ id: string }>().id;
      t.clock.advance(5 * 60_000);
      assert.equal((await replan()).planned, 1, 'the event changes the plan inputs: re-planned');
      const v2 = t.bus.forDevice('adr-bat-1').at(-1)!;
      assert.equal(v2.version, v1.version + 1);
      for (const k of [2, 3]) assert.equal(at(v2.intervals, h0 + k * HOUR + 1)?.action, 'charge', `cheap hour +${k}: ${JSON.stringify(v2.intervals)}`);
      for (const k of [6, 7]) assert.equal(at(v2.intervals, h0 + k * HOUR + 1)?.action, 'discharge', `dear hour +${k}: ${JSON.stringify(v2.intervals)}`);
      const [stored] = await t.db.query<{ plan: unknown }>(`SELECT plan FROM optimizer_plans WHERE device_id = 'adr-bat-1' ORDER BY made_at DESC, id DESC LIMIT 1`);
      const planJson = (typeof stored!.plan === 'string' ? JSON.parse(stored!.plan) : stored!.plan) as { eventIds: string[]; version: number; importPrice: number[] };
      assert.deepEqual([planJson.eventIds, planJson.version], [[eventId], v2.version]);
      assert.equal(planJson.importPrice[6], 0.9, 'the event\'s price replaces the tariff\'s');

      // the utility changes the event: hour +4 becomes a dispatch setpoint of −2 kW (discharge) amid the cheap hours
      const changed = { ...event, payloadDescriptors: [...event.payloadDescriptors, { payloadType: 'DISPATCH_SETPOINT', units: 'KW' }] };
      changed.intervals = changed.intervals.map((iv) => (iv.id === 4 ? { id: 4, payloads: [{ type: 'PRICE', values: [0.01] }, { type: 'DISPATCH_SETPOINT', values: [-2] }] } : iv));
      const upd = await t.app.inject({ method: 'PUT', url: `${V}/events/${eventId}`, headers: bl, payload: changed });
      assert.equal(upd.statusCode, 200, upd.body);
      t.clock.advance(5 * 60_000);
      assert.equal((await replan()).planned, 1, 'a changed event re-plans');
      const v3 = t.bus.forDevice('adr-bat-1').at(-1)!;
      assert.equal(v3.version, v2.version + 1);
      assert.deepEqual([at(v3.intervals, h0 + 4 * HOUR + 1)?.action, at(v3.intervals, h0 + 4 * HOUR + 1)?.powerKw], ['discharge', 2], JSON.stringify(v3.intervals));
      assert.equal(at(v3.intervals, h0 + 2 * HOUR + 1)?.action, 'charge');
    });

    it('after the event ends, the worker job reports what the device delivered to the VTN, once; a VEN reads the report', async () => {
      const [ev] = await t.db.query<{ id: string; starts_at: Date | string }>(`SELECT id, starts_at FROM openadr_objects WHERE object_type = 'EVENT' ORDER BY created_at LIMIT 1`);
      const start = Date.parse(new Date(ev!.starts_at).toISOString());
      assert.deepEqual(await reportEndedEvents(t.db, logger, new Date(t.clock.now())), [], 'not ended yet: nothing reported');
      // the device's telemetry (the gateway's table): −2 kW through hour +4, 0 otherwise, once a minute
      await t.db.query('SELECT ensure_device_telemetry_partitions($1, $2)', [new Date(start), new Date(start + 9 * HOUR)]);
      for (let m = 0; m < 9 * 60; m += 5) {
        const ms = start + m * 60_000;
        await t.db.query(`INSERT INTO device_telemetry (device_id, at, seq, soc_pct, power_kw, schedule_version, mode) VALUES ('adr-bat-1', $1, $2, 50, $3, 3, 'schedule')`,
          [new Date(ms), 100 + m, ms >= start + 4 * HOUR && ms < start + 5 * HOUR ? -2 : 0]);
      }
      const after = new Date(start + 10 * HOUR);
      assert.deepEqual(await reportEndedEvents(t.db, logger, after), [ev!.id]);
      assert.deepEqual(await reportEndedEvents(t.db, logger, after), [], 'reported once');
      const ven = (await openadrBearer(t.app, t.db, 'ven')).headers;
      const res = await t.app.inject({ url: `${V}/reports?eventID=${ev!.id}`, headers: ven });
      assert.equal(res.statusCode, 200, res.body);
      const [report] = res.json<Array<{ clientName: string; resources: Array<{ intervals: Array<{ id: number; payloads: Array<{ type: string; values: number[] }> }> }> }>>();
      assert.equal(report?.clientName, FLEET_REPORT_CLIENT);
      const usage = report!.resources[0]!.intervals.map((i) => i.payloads[0]!.values[0]);
      assert.deepEqual(usage, [0, 0, 0, 0, -2, 0, 0, 0, 0]);
    });
  });
}
