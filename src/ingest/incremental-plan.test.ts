import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EIA_ROUTES, planIncremental, type RouteCoverage } from './incremental-plan.ts';
import type { EiaRoute } from './eia-schema.ts';

const HOUR = 3_600_000;
const at = (iso: string) => new Date(iso);
const opts = { revisionHours: 48, historyDays: 28 };

describe('the hourly plan, per BA and route', () => {
  it('starts each BA and route at its own newest hour minus 48 h, four weeks back when nothing is stored, grouped into few requests', () => {
    const lastHour = at('2025-07-03T23:00Z');
    const coverage: RouteCoverage[] = [
      { ba: 'CISO', route: 'region', newest: at('2025-07-03T23:00Z') },
      { ba: 'CISO', route: 'fuel', newest: at('2025-07-03T23:00Z') },
      { ba: 'CISO', route: 'interchange', newest: at('2025-07-02T11:00Z') }, // BA-to-BA lands later
      { ba: 'PACW', route: 'region', newest: at('2025-07-03T23:00Z') },
      { ba: 'PACW', route: 'fuel', newest: at('2025-07-03T23:00Z') },
      { ba: 'PACW', route: 'interchange', newest: at('2025-07-02T11:00Z') },
      { ba: 'BANC', route: 'region', newest: null },
      { ba: 'BANC', route: 'fuel', newest: at('2025-01-01T00:00Z') }, // older than four weeks: four weeks back
      { ba: 'BANC', route: 'interchange', newest: null },
    ];
    const plan = planIncremental(coverage, lastHour, opts).map((r) => ({ bas: r.bas.join(','), routes: r.routes.join(','), from: r.from.toISOString(), to: r.to.toISOString() }));
    assert.deepEqual(plan, [
      // 07-03 23:00 − 28 days
      { bas: 'BANC', routes: 'region,fuel,interchange', from: '2025-06-05T23:00:00.000Z', to: '2025-07-03T23:00:00.000Z' },
      // 07-02 11:00 − 48 h
      { bas: 'CISO,PACW', routes: 'interchange', from: '2025-06-30T11:00:00.000Z', to: '2025-07-03T23:00:00.000Z' },
      // 07-03 23:00 − 48 h
      { bas: 'CISO,PACW', routes: 'region,fuel', from: '2025-07-01T23:00:00.000Z', to: '2025-07-03T23:00:00.000Z' },
    ]);
  });

  it('starts a BA and route with nothing stored at the store\'s intended start when that is later than four weeks back', () => {
    const lastHour = at('2025-07-03T23:00Z');
    const intendedFrom = at('2025-07-01T05:00Z'); // the first start, two and a half days ago, meant to cover from here
    const coverage: RouteCoverage[] = [
      { ba: 'CISO', route: 'region', newest: at('2025-07-03T23:00Z') },
      { ba: 'PACW', route: 'region', newest: null }, // a crash during the first fill left it empty
      { ba: 'BANC', route: 'region', newest: at('2025-07-01T06:00Z') }, // minus 48 h is before the intended start
    ];
    const plan = planIncremental(coverage, lastHour, { ...opts, intendedFrom }).map((r) => `${r.bas.join(',')} ${r.from.toISOString()}`);
    assert.deepEqual(plan, ['BANC,PACW 2025-07-01T05:00:00.000Z', 'CISO 2025-07-01T23:00:00.000Z']);
    // an intended start older than four weeks is not reached back to every hour
    const old = planIncremental([{ ba: 'PACW', route: 'region', newest: null }], lastHour, { ...opts, intendedFrom: at('2025-01-01T00:00Z') });
    assert.equal(old[0]!.from.toISOString(), '2025-06-05T23:00:00.000Z');
  });

  it('covers every BA and route exactly once, from its own start', () => {
    const bas = ['AAA', 'BBB', 'CCC', 'DDD'];
    const lastHour = at('2025-07-03T23:00Z').getTime();
    const newest = fc.option(fc.integer({ min: -24 * 60, max: 0 }).map((h) => new Date(lastHour + h * HOUR)), { nil: null });
    fc.assert(fc.property(fc.array(newest, { minLength: bas.length * 3, maxLength: bas.length * 3 }), (hours) => {
      const coverage = bas.flatMap((ba, i) => EIA_ROUTES.map((route, j) => ({ ba, route, newest: hours[i * 3 + j]! })));
      const plan = planIncremental(coverage, new Date(lastHour), opts);
      const seen = new Map<string, number>();
      for (const r of plan) {
        assert.equal(r.to.getTime(), lastHour);
        for (const ba of r.bas) for (const route of r.routes) {
          const k = `${ba}|${route}`;
          assert.ok(!seen.has(k), `${k} twice`);
          seen.set(k, r.from.getTime());
        }
      }
      for (const c of coverage) {
        const fallback = lastHour - 28 * 24 * HOUR;
        const want = c.newest ? Math.max(fallback, c.newest.getTime() - 48 * HOUR) : fallback;
        assert.equal(seen.get(`${c.ba}|${c.route as EiaRoute}`), want, `${c.ba} ${c.route}`);
      }
    }));
  });
});
