import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testDatabases } from '../support/databases.ts';
import { ack, openFleetApp, provision, reportSoc, type FleetTestApp } from './fleet-support.ts';
import { MAX_INTERVALS, MAX_SCHEDULE_MESSAGE_BYTES, scheduleMessage, type ScheduleInterval } from '../../src/fleet/messages.ts';
import { checkScheduleSize } from '../../src/fleet/schedule-check.ts';
import { MAX_INSTANT_LENGTH, zonedInstant } from '../../src/platform/instant.ts';
import { dateTime as openAdrDateTime } from '../../src/openadr/openadr-schemas.ts';

type Problem = { status: number; detail: string; field?: string };

/**
 * The fleet API's input bounds: instants (length, years, canonical form), schedule size, powers below a watt,
 * unknown fields, field paths of problems (slash style, the member of a batch), DELETE with an empty JSON body,
 * tariff 404s, and the OpenAPI document's 400/404 responses.
 */
for (const target of testDatabases()) {
  describe(`fleet API input bounds on ${target.name}`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target); });
    after(async () => { await t.app.close(); await t.db.close(); });

    const schedule = (deviceId: string, intervals: Array<Record<string, unknown>>) =>
      t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator, payload: { deviceId, intervals } });
    const refused = (res: { statusCode: number; body: string; json: <T>() => T }, field: string, status = 400) => {
      assert.equal(res.statusCode, status, res.body);
      assert.equal(res.json<Problem>().field, field, res.body);
      return res.json<Problem>().detail;
    };

    it('refuses a schedule instant that is too long or outside the years the store holds, naming it; never a 500 (attack)', async () => {
      const d = await provision(t, { id: 'pi-inst-1' });
      await reportSoc(t, d, 50);
      const ok = { end: t.clock.at(70), action: 'idle' };
      const fraction = `${new Date(t.clock.now() + 600_000).toISOString().slice(0, 19)}.${'1'.repeat(10_000)}Z`;
      assert.match(refused(await schedule(d.id, [{ start: fraction, ...ok }]), 'intervals/0/start'), new RegExp(`at most ${MAX_INSTANT_LENGTH} characters`));
      for (const start of ['+275760-09-13T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59-23:59', '1969-12-31T23:59:59Z', '2100-01-01T00:00:00Z']) {
        const res = await schedule(d.id, [{ start, ...ok }]);
        refused(res, 'intervals/0/start');
      }
      // the same bound on a device's messages (HTTP fallback)
      const far = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/acks`, headers: d.headers, payload: ack(d.id, 1, 'acknowledged', `2026-12-01T00:00:00.${'9'.repeat(5_000)}Z`, 1) });
      assert.equal(far.statusCode, 400, far.body);
      assert.equal(far.json<Problem>().field, 'at');
      assert.ok(far.body.length < 1_000, 'the problem does not echo the 5 kB text');
    });

    it('stores and sends instants in canonical UTC form, whatever offset or precision they were sent with', async () => {
      const d = await provision(t, { id: 'pi-inst-2' });
      await reportSoc(t, d, 50);
      // 00:10Z written as 01:10 at +01:00, and 01:10Z with a nanosecond fraction of zeros
      const res = await schedule(d.id, [{ start: '2026-12-01T01:10:00+01:00', end: '2026-12-01T01:10:00.000000000Z', action: 'idle' }]);
      assert.equal(res.statusCode, 201, res.body);
      const [sent] = t.bus.forDevice(d.id);
      assert.deepEqual(sent!.intervals[0], { start: '2026-12-01T00:10:00.000Z', end: '2026-12-01T01:10:00.000Z', action: 'idle' });
      const [row] = await t.db.query<{ intervals: ScheduleInterval[] }>('SELECT intervals FROM schedule_versions WHERE device_id = $1', [d.id]);
      assert.equal(row!.intervals[0]!.start, '2026-12-01T00:10:00.000Z');
      const poll = await t.app.inject({ url: `/api/v1/devices/${d.id}/schedule`, headers: d.headers });
      assert.equal(poll.json<{ intervals: ScheduleInterval[] }>().intervals[0]!.start, '2026-12-01T00:10:00.000Z');
    });

    it('any string the instant schema accepts is an instant JavaScript and PostgreSQL timestamptz both hold, the same one (property)', async () => {
      const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
      const text = fc.tuple(
        fc.oneof({ arbitrary: fc.integer({ min: 1960, max: 2210 }), weight: 6 }, { arbitrary: fc.integer({ min: 0, max: 9999 }), weight: 1 })
          .map((y) => String(y).padStart(4, '0')).chain((y) => fc.oneof({ arbitrary: fc.constant(y), weight: 9 }, { arbitrary: fc.constantFrom('+275760', '-000001', '+010000', '10000'), weight: 1 })),
        two(13), two(32), two(24), two(60), two(60),
        fc.oneof(fc.constant(''), fc.stringMatching(/^\.\d{1,40}$/)),
        fc.oneof(fc.constant('Z'), fc.tuple(fc.constantFrom('+', '-'), two(24), two(60)).map(([s, h, m]) => `${s}${h}:${m}`)),
      ).map(([y, mo, d, h, mi, s, f, z]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${f}${z}`);
      const accepted: string[] = [];
      fc.assert(fc.property(fc.oneof(text, fc.string({ maxLength: 40 })), (s) => {
        for (const schema of [zonedInstant(), openAdrDateTime]) {
          if (!schema.safeParse(s).success) continue;
          assert.ok(s.length <= MAX_INSTANT_LENGTH);
          const iso = new Date(s).toISOString();
          assert.equal(Date.parse(iso), Date.parse(s));
          accepted.push(s);
        }
      }), { numRuns: 3_000 });
      assert.ok(accepted.length > 100, `only ${accepted.length} accepted: the generator should reach the schema's inside`);
      // PostgreSQL (or PGlite) holds every accepted text: its canonical form (what is stored) as exactly the instant
      // JavaScript reads, the text as sent within the millisecond (PostgreSQL rounds a fraction to microseconds where
      // JavaScript truncates it to milliseconds: the reason instants are stored canonical). One statement for all.
      const rows = await t.db.query<{ raw: string | number; canonical: string | number }>(
        `SELECT (extract(epoch FROM s::timestamptz) * 1000)::float8 AS raw, (extract(epoch FROM c::timestamptz) * 1000)::float8 AS canonical
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(s, c, i) ORDER BY i`, [accepted, accepted.map((s) => new Date(s).toISOString())]);
      rows.forEach((r, i) => {
        const ms = Date.parse(accepted[i]!);
        assert.equal(Math.round(Number(r.canonical)), ms, accepted[i]);
        assert.ok(Math.abs(Number(r.raw) - ms) < 1, `${accepted[i]}: ${r.raw} vs ${ms}`);
      });
    });

    it('checks a schedule\'s size when it is accepted: intervals count and the message the device would receive, naming intervals with the limit', async () => {
      const d = await provision(t, { id: 'pi-size-1' });
      const many = Array.from({ length: MAX_INTERVALS + 1 }, (_, i) => ({ start: t.clock.at(10 + i), end: t.clock.at(11 + i), action: 'idle' }));
      const tooMany = await schedule(d.id, many);
      assert.match(refused(tooMany, 'intervals'), new RegExp(`${MAX_INTERVALS}`));
      // the byte limit, on the message as the device receives it: with a limit of 2 KB, 30 intervals (about 2.6 KB) are refused
      const intervals = many.slice(0, 30) as ScheduleInterval[];
      const p = checkScheduleSize(intervals, 2_048);
      assert.equal(p?.field, 'intervals');
      assert.match(p!.detail, /at most 2048 bytes/);
      assert.equal(checkScheduleSize(intervals.slice(0, 5), 2_048), null);
      // the largest schedule the API accepts fits the packet limit (so no publish ever fails on size)
      const largest = Array.from({ length: MAX_INTERVALS }, () => ({ start: '2099-12-31T23:59:59.999Z', end: '2099-12-31T23:59:59.999Z', action: 'discharge' as const, powerKw: 999.9999999999999, targetSoc: 99.99999999999999 }));
      assert.equal(checkScheduleSize(largest), null, `limit ${MAX_SCHEDULE_MESSAGE_BYTES}`);
      assert.ok(scheduleMessage.safeParse({ schema: 'gridpulse.schedule/1', deviceId: d.id, version: 1, issuedAt: t.clock.at(0), intervals: largest, fallback: 'idle' }).success);
    });

    it('refuses a charge or discharge power below 1 W (powerKw 1e-300) naming the interval', async () => {
      const d = await provision(t, { id: 'pi-watt-1' });
      await reportSoc(t, d, 50);
      for (const powerKw of [1e-300, 0.0009, Number.MIN_VALUE]) {
        for (const action of ['charge', 'discharge']) {
          assert.match(refused(await schedule(d.id, [{ start: t.clock.at(10), end: t.clock.at(70), action, powerKw }]), 'intervals/0/powerKw'), /0\.001 kW/);
        }
      }
      assert.equal((await schedule(d.id, [{ start: t.clock.at(10), end: t.clock.at(70), action: 'charge', powerKw: 0.001 }])).statusCode, 201);
    });

    it('refuses unknown fields in fleet bodies with 400 naming the field by its path', async () => {
      const d = await provision(t, { id: 'pi-unknown-1' });
      await reportSoc(t, d, 50);
      refused(await schedule(d.id, [{ start: t.clock.at(10), end: t.clock.at(70), action: 'idle', colour: 'red' }]), 'intervals/0/colour');
      refused(await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(10), end: t.clock.at(70), action: 'idle' }], priorty: 5 } }), 'priorty');
      refused(await t.app.inject({ method: 'POST', url: '/api/v1/devices', headers: t.operator, payload: { name: 'x', capacityKWh: 10 } }), 'capacityKWh');
      assert.equal((await t.db.query('SELECT 1 FROM devices WHERE name = $1', ['x'])).length, 0);
      refused(await t.app.inject({ method: 'PUT', url: `/api/v1/devices/${d.id}/tariff`, headers: t.operator, payload: { tariff: { kind: 'flat', price: 0.2, prise: 0.3 } } }), 'tariff/prise');
      refused(await t.app.inject({ method: 'PUT', url: `/api/v1/devices/${d.id}/tariff`, headers: t.operator, payload: { tariff: { kind: 'flat', price: 0.2 }, carbonPrise: 1 } }), 'carbonPrise');
      refused(await t.app.inject({ url: '/api/v1/devices?limt=5', headers: t.operator }), 'limt');
    });

    it('names the field of every problem by its slash path, the member of a batch included', async () => {
      const d = await provision(t, { id: 'pi-path-1' });
      await reportSoc(t, d, 50);
      // zod's own errors and the schedule checks: one style
      refused(await schedule(d.id, [{ start: t.clock.at(10), end: t.clock.at(70), action: 'idle' }, { start: t.clock.at(70), end: t.clock.at(80), action: 'charge', powerKw: -1 }]), 'intervals/1/powerKw');
      refused(await schedule(d.id, [{ start: t.clock.at(10), end: t.clock.at(70), action: 'idle' }, { start: t.clock.at(70), end: t.clock.at(80), action: 'charge' }]), 'intervals/1/powerKw');
      refused(await schedule(d.id, [{ start: t.clock.at(10), end: t.clock.at(70), action: 'charge', powerKw: 50 }]), 'intervals/0/powerKw', 422);
      // a batch whose second message is wrong names that message, not "body: Invalid input"
      const now = t.clock.at(0);
      const batch = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/acks`, headers: d.headers,
        payload: [ack(d.id, 1, 'acknowledged', now, 1), { ...ack(d.id, 1, 'executing', now, 2), version: 'one' }] });
      const detail = refused(batch, '1/version');
      assert.doesNotMatch(detail, /Invalid input$/);
      const telemetry = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: d.headers,
        payload: [{ schema: 'gridpulse.telemetry/1', deviceId: d.id, at: now, seq: 5, socPct: 150, powerKw: 0, scheduleVersion: 0, mode: 'idle' }] });
      refused(telemetry, '0/socPct');
      // a batch over its size limit says the limit, not "body: Invalid input"
      const tooMany = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: d.headers,
        payload: Array.from({ length: 1_001 }, (_, i) => ({ schema: 'gridpulse.telemetry/1', deviceId: d.id, at: now, seq: 10 + i, socPct: 50, powerKw: 0, scheduleVersion: 0, mode: 'idle' })) });
      assert.equal(tooMany.statusCode, 400, tooMany.body);
      assert.match(tooMany.json<{ detail: string }>().detail, /1000/);
      // a rollout ramp starting above its own cap is refused, naming the start
      refused(await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { fleet: true, intervals: [{ start: t.clock.at(10), end: t.clock.at(70), action: 'idle' }], rollout: { maxPerMinute: 1, exponential: { basePerMinute: 5, incrementFactor: 2 } } } }), 'rollout/exponential/basePerMinute');
      // a single message keeps its own paths
      refused(await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/acks`, headers: d.headers, payload: { ...ack(d.id, 1, 'acknowledged', now, 1), state: 'done' } }), 'state');
    });

    it('accepts a DELETE sent with content-type application/json and an empty body', async () => {
      const d = await provision(t, { id: 'pi-delete-1' });
      const put = await t.app.inject({ method: 'PUT', url: `/api/v1/devices/${d.id}/tariff`, headers: t.operator, payload: { tariff: { kind: 'flat', price: 0.2 } } });
      assert.equal(put.statusCode, 200, put.body);
      const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/devices/${d.id}/tariff`, headers: { ...t.operator, 'content-type': 'application/json' }, payload: '' });
      assert.equal(del.statusCode, 204, del.body);
      const revoke = await t.app.inject({ method: 'DELETE', url: `/api/v1/devices/${d.id}`, headers: { ...t.operator, 'content-type': 'application/json' }, payload: '' });
      assert.equal(revoke.statusCode, 204, revoke.body);
      // a POST with an empty JSON body is still refused, naming the body
      refused(await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: { ...t.operator, 'content-type': 'application/json' }, payload: '' }), 'body');
    });

    it('answers a tariff call about an unknown device 404 "no device", and one without a tariff 404 "no tariff"', async () => {
      for (const method of ['GET', 'DELETE', 'PUT'] as const) {
        const res = await t.app.inject({ method, url: '/api/v1/devices/pi-nobody-1/tariff', headers: t.operator, ...(method === 'PUT' ? { payload: { tariff: { kind: 'flat', price: 0.2 } } } : {}) });
        assert.match(refused(res, 'id', 404), /no device pi-nobody-1/, method);
      }
      const d = await provision(t, { id: 'pi-notariff-1' });
      assert.match(refused(await t.app.inject({ url: `/api/v1/devices/${d.id}/tariff`, headers: t.operator }), 'id', 404), /no tariff set/);
    });

    it('validates from/to of the fleet history and a device\'s telemetry with the platform\'s one range check: 400 naming the parameter', async () => {
      const d = await provision(t, { id: 'pi-range-1' });
      const get = (url: string) => t.app.inject({ url, headers: t.operator });
      for (const [base, maxHours] of [['/api/v1/fleet/history', 48], [`/api/v1/fleet/devices/${d.id}/telemetry`, 168]] as const) {
        refused(await get(`${base}?from=yesterday`), 'from');
        refused(await get(`${base}?from=%2B275760-09-13T00:00:00Z`), 'from');
        refused(await get(`${base}?from=2026-11-30T00:00:00.${'1'.repeat(10_000)}Z`), 'from');
        refused(await get(`${base}?to=1969-12-31T00:00:00Z`), 'to');
        assert.match(refused(await get(`${base}?from=2026-11-30T12:00:00Z&to=2026-11-30T11:00:00Z`), 'to'), /after from/);
        const long = new Date(Date.parse('2026-11-30T12:00:00Z') - (maxHours + 1) * 3_600_000).toISOString();
        assert.match(refused(await get(`${base}?from=${long}&to=2026-11-30T12:00:00Z`), 'to'), new RegExp(`longer than ${maxHours} hours`));
        refused(await get(`${base}?from=2026-11-30T00:00:00Z&hours=3`), 'hours');
        const ok = await get(`${base}?from=2026-11-30T10:02:00%2B01:00&to=2026-11-30T12:00:00Z&bucket=5`);
        assert.equal(ok.statusCode, 200, ok.body);
        assert.deepEqual(ok.json<{ from: string; to: string }>(), { ...ok.json(), from: '2026-11-30T09:00:00.000Z', to: '2026-11-30T12:00:00.000Z' });
      }
      // without from/to: the last `hours` before now (the overview's own clock), as before
      const last = (await get('/api/v1/fleet/history?hours=2')).json<{ from: string; to: string }>();
      const to = Date.parse(last.to);
      assert.ok(Math.abs(to - Date.now()) < 60_000, last.to);
      assert.equal(Date.parse(last.from), Math.floor((to - 2 * 3_600_000) / 300_000) * 300_000);
    });

    it('the OpenAPI document: every fleet operation with a path parameter documents 404, with a parameter, query or body 400, and each documented status is one it can answer', async () => {
      type Op = { parameters?: Array<{ in: string }>; requestBody?: unknown; responses?: Record<string, unknown>; tags?: string[] };
      const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json<{ paths: Record<string, Record<string, Op>> }>();
      const fleet = /^\/api\/v1\/(devices|device-groups|schedules|rollouts|fleet|markets|optimizer)(\/|$)/;
      const failures: string[] = [];
      let checked = 0;
      for (const [path, methods] of Object.entries(doc.paths)) {
        if (!fleet.test(path)) continue;
        for (const [method, op] of Object.entries(methods)) {
          checked++;
          const what = `${method.toUpperCase()} ${path}`;
          const codes = Object.keys(op.responses ?? {});
          if (!codes.some((c) => /^2/.test(c))) failures.push(`${what}: no 2xx`);
          const inputs = (op.parameters ?? []).length > 0 || op.requestBody !== undefined;
          if (path.includes('{') && !codes.includes('404')) failures.push(`${what}: a path parameter but no 404`);
          if (inputs && !codes.includes('400')) failures.push(`${what}: a parameter or body but no 400`);
        }
      }
      assert.ok(checked >= 20, `${checked} fleet operations`);
      assert.deepEqual(failures, []);
      // and the answers match: a bad wait, a bad UUID, a bad device id are 400 naming the parameter
      const d = await provision(t, { id: 'pi-doc-1' });
      refused(await t.app.inject({ url: `/api/v1/devices/${d.id}/schedule?wait=abc`, headers: d.headers }), 'wait');
      refused(await t.app.inject({ url: '/api/v1/device-groups/not-a-uuid', headers: t.operator }), 'id');
      refused(await t.app.inject({ url: '/api/v1/rollouts/not-a-uuid', headers: t.operator }), 'id');
      refused(await t.app.inject({ method: 'DELETE', url: '/api/v1/devices/NOT_AN_ID', headers: t.operator }), 'id');
      refused(await t.app.inject({ method: 'DELETE', url: '/api/v1/devices/pi-nobody-2', headers: t.operator }), 'id', 404);
    });
  });
}
