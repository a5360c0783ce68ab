import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { openFleetApp, provision, type FleetTestApp } from './fleet-support.ts';
import { createLogger } from '../../src/platform/log.ts';
import { Agent } from '../../src/fleet/agent/agent.ts';
import { AgentStore } from '../../src/fleet/agent/agent-store.ts';
import { DEFAULT_BATTERY, SimulatedBattery } from '../../src/fleet/agent/battery.ts';
import { HttpLink } from '../../src/fleet/agent/http-link.ts';

/** `fetch` into the app in-process (app.inject), so the agent's HTTP fallback talks to the real routes without a port. */
function injectFetch(app: FastifyInstance): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const res = await app.inject({
      method: (init?.method ?? 'GET') as 'GET' | 'POST', url: url.pathname + url.search,
      headers: init?.headers as Record<string, string>, ...(init?.body ? { payload: String(init.body) } : {}),
    });
    const empty = res.statusCode === 204 || res.statusCode === 304;
    return new Response(empty ? null : res.body, { status: res.statusCode, headers: res.headers as Record<string, string> });
  }) as typeof fetch;
}

for (const target of testDatabases()) {
  describe(`agent over the HTTP fallback on ${target.name}`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target); });
    after(async () => { await t.app.close(); await t.db.close(); });

    it('polls its schedule with ETag, acks and reports over HTTP in seq order; the ledger moves to executing and succeeded', async () => {
      const d = await provision(t, { id: 'pi-http-agent-1' });
      const store = new AgentStore(':memory:');
      const battery = new SimulatedBattery({ ...DEFAULT_BATTERY, capacityKwh: 10 }, t.clock.now, 50);
      const agent = new Agent({ deviceId: d.id, store, driver: battery, clock: t.clock.now, logger: createLogger('silent'), limits: { maxChargeKw: 5, maxDischargeKw: 5 } });
      const link = new HttpLink(agent, store, { apiUrl: 'http://gridpulse.test', key: d.apiKey, waitS: 0, postIntervalMs: 0, fetch: injectFetch(t.app) }, createLogger('silent'));

      await agent.step(); // a first telemetry reading: the API's feasibility check starts from it
      assert.equal((await link.drainOnce()).kind, 'unchanged', 'outbox emptied');
      assert.equal((await link.pollOnce()).kind, 'unchanged', 'no schedule yet: 204');
      assert.equal(agent.versions().cachedVersion, 0);

      const issued = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'charge', powerKw: 3 }] } });
      assert.equal(issued.statusCode, 201, issued.body);
      assert.equal((await link.pollOnce()).kind, 'changed');
      assert.equal(agent.versions().cachedVersion, 1);
      assert.equal((await link.pollOnce()).kind, 'unchanged', 'unchanged: 304 on the ETag');
      assert.equal(store.queued(), 1, 'acknowledged once, not again on the second poll');

      const shadow = async () => (await t.app.inject({ url: `/api/v1/devices/${d.id}`, headers: t.operator })).json<{ shadow: { desired: { version: number; state: string }; confirmedVersion: number } }>().shadow;
      assert.equal((await link.drainOnce()).kind, 'unchanged');
      assert.deepEqual([(await shadow()).desired.state, (await shadow()).confirmedVersion], ['acknowledged', 1]);

      for (let m = 0; m <= 66; m++) { t.clock.advance(60_000); await agent.step(); }
      assert.equal((await link.drainOnce()).kind, 'unchanged');
      assert.equal(store.queued(), 0);
      assert.equal((await shadow()).desired.state, 'succeeded');
      const [dev] = await t.db.query<{ soc_pct: number }>('SELECT soc_pct FROM devices WHERE id = $1', [d.id]);
      assert.ok(Number(dev!.soc_pct) > 50, 'the reported SoC rose while charging');
      store.close();
    });

    it('a message the server refuses for its content is dropped alone, logged: the rest of the outbox and the polls go on', async () => {
      const d = await provision(t, { id: 'pi-http-agent-4' });
      const store = new AgentStore(':memory:');
      const agent = new Agent({ deviceId: d.id, store, driver: new SimulatedBattery(DEFAULT_BATTERY, t.clock.now, 50), clock: t.clock.now, logger: createLogger('silent') });
      const link = new HttpLink(agent, store, { apiUrl: 'http://gridpulse.test', key: d.apiKey, waitS: 0, postIntervalMs: 0, fetch: injectFetch(t.app) }, createLogger('silent'));
      const reading = (socPct: number, mode: string) => store.queueTelemetry({ schema: 'gridpulse.telemetry/1', deviceId: d.id, at: new Date(t.clock.now()).toISOString(), socPct, powerKw: 0, scheduleVersion: 0, mode } as never);
      reading(41, 'idle');
      reading(42, 'a mode this server does not know'); // version skew: the server refuses it for good (400)
      reading(43, 'idle');
      assert.equal((await link.drainOnce()).kind, 'unchanged', 'the outbox emptied: the refusal did not block it');
      assert.equal(store.queued(), 0);
      assert.equal(link.dropped, 1, 'only the refused message was dropped');
      const [dev] = await t.db.query<{ soc_pct: number }>('SELECT soc_pct FROM devices WHERE id = $1', [d.id]);
      assert.equal(Number(dev!.soc_pct), 43, 'the good readings around it arrived');
      assert.equal((await link.pollOnce()).kind, 'unchanged', 'and the schedule is polled');
      store.close();
    });

    it('a key that is not the device\'s gets nothing and nothing of the outbox is dropped', async () => {
      const a = await provision(t, { id: 'pi-http-agent-2' });
      const b = await provision(t, { id: 'pi-http-agent-3' });
      const store = new AgentStore(':memory:');
      const agent = new Agent({ deviceId: a.id, store, driver: new SimulatedBattery(DEFAULT_BATTERY, t.clock.now, 50), clock: t.clock.now, logger: createLogger('silent') });
      const link = new HttpLink(agent, store, { apiUrl: 'http://gridpulse.test', key: b.apiKey, waitS: 0, postIntervalMs: 0, fetch: injectFetch(t.app) }, createLogger('silent'));
      await agent.step();
      assert.deepEqual(await link.pollOnce(), { kind: 'refused', status: 404 });
      assert.deepEqual(await link.drainOnce(), { kind: 'refused', status: 404 });
      assert.equal(store.queued(), 1, 'the reading waits for the right key');
      store.close();
    });
  });
}
