import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../support/databases.ts';
import { openFleetApp, provision, type FleetTestApp } from './fleet-support.ts';
import { httpFallbackSinks } from '../../src/fleet/gateway/ingest-writer.ts';
import { PG_INT_MAX } from '../../src/fleet/messages.ts';

/**
 * The HTTP fallback (POST …/acks, …/telemetry) with values a PostgreSQL column cannot hold: each is a 400 problem
 * naming the field, never a 500 (before, version 2^31 passed the schema and the int4 column refused it), and nothing
 * good of the same device is lost.
 */
for (const target of testDatabases()) {
  describe(`device messages with out-of-range numbers over HTTP (${target.name})`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target, (db, clock) => httpFallbackSinks(db, () => new Date(clock.now()))); });
    after(async () => { await t.app.close(); await t.db.close(); });

    const at = () => new Date(t.clock.now()).toISOString();
    const ackOf = (deviceId: string, over: Record<string, unknown>) => ({ schema: 'gridpulse.ack/1', deviceId, version: 1, state: 'acknowledged', at: at(), seq: 1, ...over });
    const telOf = (deviceId: string, over: Record<string, unknown>) => ({ schema: 'gridpulse.telemetry/1', deviceId, at: at(), seq: 1, socPct: 50, powerKw: 0, scheduleVersion: 0, mode: 'idle', ...over });

    it('an ack or a telemetry reading with an integer beyond its column is a 400 naming the field', async () => {
      const d = await provision(t, { id: 'int-bat-1' });
      const cases: Array<[string, Record<string, unknown>, string]> = [
        ['acks', ackOf(d.id, { version: PG_INT_MAX + 1 }), 'version'],
        ['acks', ackOf(d.id, { version: 2 ** 53 - 1 }), 'version'],
        ['acks', ackOf(d.id, { intervalIndex: PG_INT_MAX + 1 }), 'intervalIndex'],
        ['acks', ackOf(d.id, { seq: 2 ** 53 }), 'seq'],
        ['acks', ackOf(d.id, { at: '2026-12-01T00:00:00+20:00' }), 'at'],
        ['telemetry', telOf(d.id, { scheduleVersion: PG_INT_MAX + 1 }), 'scheduleVersion'],
        ['telemetry', telOf(d.id, { seq: 2 ** 60 }), 'seq'],
        ['telemetry', telOf(d.id, { at: '2026-12-01T00:00:00-16:00' }), 'at'],
      ];
      for (const [leaf, body, field] of cases) {
        for (const payload of [body, [body]]) {
          const res = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/${leaf}`, headers: d.headers, payload });
          assert.equal(res.statusCode, 400, `${leaf} ${JSON.stringify(payload)}: ${res.body}`);
          assert.match(res.headers['content-type'] ?? '', /problem\+json/);
          assert.equal(res.json<{ field?: string }>().field, Array.isArray(payload) ? `0/${field}` : field, res.body);
        }
      }
      // the largest values the columns hold are taken
      const ok = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/acks`, headers: d.headers, payload: ackOf(d.id, { version: PG_INT_MAX, seq: 2 ** 53 - 1, intervalIndex: PG_INT_MAX }) });
      assert.equal(ok.statusCode, 200, ok.body);
      const [row] = await t.db.query<{ version: number; seq: string }>('SELECT version, seq::text AS seq FROM device_acks WHERE device_id = $1', [d.id]);
      assert.deepEqual([Number(row!.version), row!.seq], [PG_INT_MAX, String(2 ** 53 - 1)]);
    });

    it('a schedule whose interval instants carry a UTC offset timestamptz cannot take is a 400 naming the field', async () => {
      const d = await provision(t, { id: 'int-bat-3' });
      const local = (minutes: number, offset: string) => `${new Date(t.clock.now() + minutes * 60_000 + 20 * 3_600_000).toISOString().slice(0, 19)}${offset}`;
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: local(5, '+20:00'), end: local(65, '+20:00'), action: 'idle' }] } });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json<{ field?: string }>().field, 'intervals/0/start');
      const ok = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }] } });
      assert.equal(ok.statusCode, 201, ok.body);
    });

    it('the OpenAPI document states the bounds (ack version ≤ 2^31 − 1)', async () => {
      const res = await t.app.inject('/api/v1/openapi.json');
      assert.equal(res.statusCode, 200);
      const text = JSON.stringify(res.json<{ paths: Record<string, unknown> }>().paths['/api/v1/devices/{id}/acks']);
      assert.match(text, new RegExp(`"maximum":${PG_INT_MAX}\\b`));
    });

    it('a reading below the range of float4 (the telemetry columns) is stored as 0, not refused with a 500', async () => {
      const d = await provision(t, { id: 'int-bat-2' });
      const res = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: d.headers,
        payload: [telOf(d.id, { seq: 1, socPct: 1e-50, powerKw: -1e-300 }), telOf(d.id, { seq: 2, at: new Date(t.clock.now() + 1_000).toISOString(), socPct: 42 })] });
      assert.equal(res.statusCode, 200, res.body);
      const rows = await t.db.query<{ seq: number; soc_pct: number; power_kw: number }>('SELECT seq::int AS seq, soc_pct, power_kw FROM device_telemetry WHERE device_id = $1 ORDER BY seq', [d.id]);
      assert.deepEqual(rows.map((r) => [r.seq, Number(r.soc_pct), Math.abs(Number(r.power_kw))]), [[1, 0, 0], [2, 42, 0]]);
    });
  });
}

for (const target of testDatabases()) {
  describe(`a store refusing a device's HTTP messages for their content (${target.name})`, () => {
    let t: FleetTestApp;
    const refused = () => Object.assign(new Error('integer out of range'), { code: '22003' });
    before(async () => { t = await openFleetApp(target, () => ({ ackSink: async () => { throw refused(); }, telemetrySink: async () => { throw refused(); } })); });
    after(async () => { await t.app.close(); await t.db.close(); });

    it('is a 400 problem (the agent isolates the message), never a 500 it would retry forever', async () => {
      const d = await provision(t, { id: 'int-bat-4' });
      const at = new Date(t.clock.now()).toISOString();
      for (const [leaf, payload] of [
        ['acks', { schema: 'gridpulse.ack/1', deviceId: d.id, version: 1, state: 'acknowledged', at, seq: 1 }],
        ['telemetry', [{ schema: 'gridpulse.telemetry/1', deviceId: d.id, at, seq: 1, socPct: 50, powerKw: 0, scheduleVersion: 0, mode: 'idle' }]],
      ] as const) {
        const res = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/${leaf}`, headers: d.headers, payload });
        assert.equal(res.statusCode, 400, `${leaf}: ${res.body}`);
        assert.match(res.headers['content-type'] ?? '', /problem\+json/);
        assert.equal(res.json<{ field?: string }>().field, 'body');
      }
    });
  });
}
