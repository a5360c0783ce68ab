import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { testDatabases } from '../support/databases.ts';
import { runRollouts } from '../../src/fleet/rollouts.ts';
import { startTracing, withSpan, type Tracing } from '../../src/platform/tracing.ts';
import type { ScheduleMessage } from '../../src/fleet/messages.ts';
import { openFleetApp, provision, reportSoc, type FleetTestApp } from './fleet-support.ts';

/**
 * A rollout's later rounds run in whichever process claims them, long after the API call answered 202. Each round
 * still publishes in the trace of the call that created the rollout (its traceparent is stored with the rollout,
 * migration 0042), so one trace runs from the call through every round's publish to the devices' acks (issue 16).
 */
for (const target of testDatabases()) {
  describe(`a rollout's rounds publish in the trace of the API call that created it, on ${target.name}`, () => {
    let t: FleetTestApp;
    let tracing: Tracing | undefined;
    before(async () => {
      tracing = startTracing({ role: 'test', exporters: [new InMemorySpanExporter()] });
      t = await openFleetApp(target);
    });
    after(async () => { await t.app.close(); await t.db.close(); await tracing?.shutdown(); });

    it('a round run outside any request publishes as a child of the creating call\'s trace', async () => {
      const devices = [];
      for (let i = 0; i < 3; i++) {
        const d = await provision(t, { id: `trace-ro-${i}` });
        await reportSoc(t, d, 50);
        devices.push(d);
      }
      const g = await t.app.inject({ method: 'POST', url: '/api/v1/device-groups', headers: t.operator, payload: { name: 'trace-ro', deviceIds: devices.map((d) => d.id) } });
      assert.equal(g.statusCode, 201, g.body);
      const { callTrace, rolloutId } = await withSpan('caller', {}, async (span) => {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
          payload: { groupId: g.json<{ id: string }>().id, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }], rollout: { maxPerMinute: 60 } } });
        assert.equal(res.statusCode, 202, res.body);
        return { callTrace: span!.spanContext().traceId, rolloutId: res.json<{ rolloutId: string }>().rolloutId };
      });
      assert.equal(await t.firstRound(rolloutId), 1);

      // the next round, with no span active: what trace is each publish in?
      const seen: string[] = [];
      const bus = { publishSchedule: async (m: ScheduleMessage) => { seen.push(trace.getActiveSpan()?.spanContext().traceId ?? 'none'); await t.bus.publishSchedule(m); } };
      assert.equal(trace.getActiveSpan(), undefined);
      t.clock.advance(1_000);
      assert.equal(await runRollouts(t.db, bus, t.s), 1, 'one more device a second at 60 a minute');
      assert.deepEqual(seen, [callTrace]);
    });
  });
}
