import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { traceHour, type TraceHour, type TraceNode, type TraceResult } from './flow-tracing.ts';
import { consumptionPoints, productionHour, systemHour, systemLookups, toSystem, type SeriesRow, type SystemHours } from './intensity.ts';
import { parseGridemissionsCsv } from '../../ingest/gridemissions.ts';
import { pointSeries } from '../../ingest/store-points.ts';
import { factorLookup } from './factors.ts';
import { sharedDataTest, sharedPath } from '../../../test/support/shared-data.ts';

const node = (emissions: number, generation: number): TraceNode => ({ emissions, generation });
const close = (actual: number | null | undefined, expected: number, eps = 1e-9) =>
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)), `${actual} ≠ ${expected}`);

describe('flow tracing: hand-computed fixtures', () => {
  it('two BAs: the importer mixes its own wind with imported coal', () => {
    // A: 100 MWh coal (820) → E 82 000 kg; B: 100 MWh wind (11) → E 1 100 kg; A exports 50 MW to B (both sides agree).
    // x_A = 82 000 / 100 = 820; x_B · (100 + 50) − 50 · 820 = 1 100 → x_B = 42 100 / 150 = 280.666…
    const r = traceHour({ nodes: new Map([['A', node(82_000, 100)], ['B', node(1_100, 100)]]), interchange: { A: { B: 50 }, B: { A: -50 } } });
    close(r.intensity.get('A'), 820);
    close(r.intensity.get('B'), 42_100 / 150);
    assert.equal(r.flags.size, 0);
  });

  it('three BAs in a loop', () => {
    // A 200 MWh gas (E 98 000), B 100 MWh solar (E 4 500), C 50 MWh coal (E 41 000); flows A→B 60, B→C 40, C→A 20.
    //   220 x_A − 20 x_C = 98 000;  160 x_B − 60 x_A = 4 500;  90 x_C − 40 x_B = 41 000
    // Substituting x_B = (4 500 + 60 x_A)/160 and x_C = (41 000 + 40 x_B)/90 into the first gives
    //   x_A = 19 325/39, x_B = 11 125/52, x_C = 21 475/39.
    const hour: TraceHour = {
      nodes: new Map([['A', node(98_000, 200)], ['B', node(4_500, 100)], ['C', node(41_000, 50)]]),
      interchange: { A: { B: 60, C: -20 }, B: { A: -60, C: 40 }, C: { B: -40, A: 20 } },
    };
    for (const solver of ['auto', 'direct'] as const) {
      const r = traceHour(hour, { solver });
      close(r.intensity.get('A'), 19_325 / 39);
      close(r.intensity.get('B'), 11_125 / 52);
      close(r.intensity.get('C'), 21_475 / 39);
    }
  });

  it('averages a disagreeing pair and flags both sides', () => {
    // A says it exports 50 to B, B says it imports 30 from A: flow = (50 + 30) / 2 = 40.
    // x_B = (1 100 + 40 · 820) / (100 + 40) = 33 900 / 140
    const r = traceHour({ nodes: new Map([['A', node(82_000, 100)], ['B', node(1_100, 100)]]), interchange: { A: { B: 50 }, B: { A: -30 } } });
    close(r.intensity.get('B'), 33_900 / 140);
    assert.deepEqual([...r.flags.get('A')!], ['pair-mismatch']);
    assert.deepEqual([...r.flags.get('B')!], ['pair-mismatch']);
    assert.equal(r.flows.get('A')!.get('B'), 40);
  });

  it('tolerates small disagreement (within 10 MW or 5 %) without a flag', () => {
    const r = traceHour({ nodes: new Map([['A', node(82_000, 100)], ['B', node(1_100, 100)]]), interchange: { A: { B: 500 }, B: { A: -480 } } });
    assert.equal(r.flags.size, 0);
    assert.equal(r.flows.get('A')!.get('B'), 490);
  });

  it('uses one side alone when the other did not report', () => {
    const r = traceHour({ nodes: new Map([['A', node(82_000, 100)], ['B', node(1_100, 100)]]), interchange: { B: { A: -50 } } });
    close(r.intensity.get('B'), 42_100 / 150);
  });

  it('leaves imports from a neighbour without data out of the mix, flagged', () => {
    // X (e.g. a Canadian BA) has no fuel data: B's 50 MW import from X is not traced; B keeps its own mix.
    const r = traceHour({ nodes: new Map([['B', node(1_100, 100)]]), interchange: { B: { X: -50 }, X: { B: 50 } } });
    close(r.intensity.get('B'), 11);
    assert.deepEqual([...r.flags.get('B')!], ['neighbour-missing']);
    assert.equal(r.intensity.has('X'), false);
  });

  it('does not flag exports to a neighbour without data', () => {
    const r = traceHour({ nodes: new Map([['B', node(1_100, 100)]]), interchange: { B: { X: 50 } } });
    close(r.intensity.get('B'), 11);
    assert.equal(r.flags.size, 0);
  });

  it('flags a BA whose interchange is missing this hour', () => {
    const r = traceHour({ nodes: new Map([['B', node(1_100, 100)]]), interchange: { B: { A: null } }, reportsInterchange: new Set(['B']) });
    assert.deepEqual([...r.flags.get('B')!], ['interchange-missing']);
  });

  it('gives a pure importer (no generation) the intensity of what it imports', () => {
    const r = traceHour({ nodes: new Map([['A', node(82_000, 100)], ['L', node(0, 0)]]), interchange: { A: { L: 30 } } });
    close(r.intensity.get('L'), 820);
  });

  it('drops flows reported out of a BA that has nothing to export, flagging the importer', () => {
    const r = traceHour({ nodes: new Map([['A', node(82_000, 100)], ['Z', node(0, 0)]]), interchange: { Z: { A: 30 } } });
    close(r.intensity.get('A'), 820);
    assert.equal(r.intensity.get('Z'), null);
    assert.deepEqual([...r.flags.get('A')!], ['neighbour-missing']);
  });

  it('traces the imports of a BA with fuel data but no generation this hour (solar at night)', () => {
    const system: SystemHours = {
      ts: [new Date('2025-06-01T08:00:00Z')],
      fuels: new Map<string, Record<string, (number | null)[]>>([['PACW', { COL: [100] }], ['SOLR', { SUN: [-1] }]]),
      interchange: new Map([['PACW', { SOLR: [5] }]]),
      sources: new Map(),
    };
    const points = consumptionPoints(system, 'lifecycle');
    assert.equal(points.get('SOLR')![0]!.value, 820);
    assert.deepEqual(points.get('SOLR')![0]!.flags, ['no-generation']);
  });

  it('gives null, not 0, to two BAs without generation that trade only with each other', () => {
    // Y and Z have fuel data but no generation; Y exports 30 MW to Z. Y's pool is 0, so its export carries no
    // traceable energy: dropped, Z flagged; both null. A (coal) is untouched: 82 000 / 100 = 820.
    const r = traceHour({ nodes: new Map([['A', node(82_000, 100)], ['Y', node(0, 0)], ['Z', node(0, 0)]]), interchange: { Y: { Z: 30 }, Z: { Y: -30 } } });
    close(r.intensity.get('A'), 820);
    assert.equal(r.intensity.get('Y'), null);
    assert.equal(r.intensity.get('Z'), null);
    assert.deepEqual([...r.flags.get('Z')!], ['neighbour-missing']);
  });

  it('gives null, not 0, to a loop of BAs without generation (energy circling with no source)', () => {
    // X → Y → Z → X, 30 MW each, none generates: every pool is 30 MW of inflow, so the old rule (drop flows out of
    // BAs with an empty pool) kept the loop and the solve gave x = 0 / 30 = 0 for all three. None is reached
    // from a BA with generation: all three flows are dropped, each importer flagged, all null.
    const r = traceHour({
      nodes: new Map([['A', node(82_000, 100)], ['X', node(0, 0)], ['Y', node(0, 0)], ['Z', node(0, 0)]]),
      interchange: { X: { Y: 30, Z: -30 }, Y: { Z: 30, X: -30 } },
    });
    close(r.intensity.get('A'), 820);
    for (const ba of ['X', 'Y', 'Z']) {
      assert.equal(r.intensity.get(ba), null, ba);
      assert.deepEqual([...r.flags.get(ba)!], ['neighbour-missing'], ba);
    }
    assert.equal(r.flows.size, 0);
  });

  it('does not dilute an importer with zero-intensity energy from a sourceless loop', () => {
    // The loop above also sends 10 MW from Z to A. That import has no traceable energy: A keeps 82 000 / 100 = 820
    // (the old rule gave (82 000 + 10 · 0) / 110 = 745.45…), flagged neighbour-missing.
    const r = traceHour({
      nodes: new Map([['A', node(82_000, 100)], ['X', node(0, 0)], ['Y', node(0, 0)], ['Z', node(0, 0)]]),
      interchange: { X: { Y: 30, Z: -30 }, Y: { Z: 30, X: -30 }, Z: { A: 10 } },
    });
    close(r.intensity.get('A'), 820);
    assert.deepEqual([...r.flags.get('A')!], ['neighbour-missing']);
    assert.equal(r.intensity.get('Z'), null);
  });

  it('traces a loop without generation once a BA with generation feeds it', () => {
    // A (coal, 820) exports 20 MW to X; loop X → Y → Z → X at 30 MW. Only coal enters the loop, so all are 820.
    // (Gauss–Seidel stops on a sweep's change ≤ 1e-9 relative; round a loop that keeps 60 % the error left is
    // about 1.5 times that, so compare at 1e-8; the LU solve is exact.)
    const hour: TraceHour = {
      nodes: new Map([['A', node(82_000, 100)], ['X', node(0, 0)], ['Y', node(0, 0)], ['Z', node(0, 0)]]),
      interchange: { A: { X: 20 }, X: { Y: 30, Z: -30 }, Y: { Z: 30, X: -30 } },
    };
    const r = traceHour(hour);
    for (const ba of ['A', 'X', 'Y', 'Z']) close(r.intensity.get(ba), 820, 1e-8);
    for (const ba of ['A', 'X', 'Y', 'Z']) close(traceHour(hour, { solver: 'direct' }).intensity.get(ba), 820);
    assert.equal(r.flags.size, 0);
  });

  it('returns null for a BA with neither generation nor imports', () => {
    const r = traceHour({ nodes: new Map([['A', node(82_000, 100)], ['L', node(0, 0)]]), interchange: {} });
    assert.equal(r.intensity.get('L'), null);
  });
});

/** Σ x_i · consumption_i with consumption_i = G_i + inflows − outflows, and Σ E_i, over the traced flows. */
function emissionBalance(hour: TraceHour, r: TraceResult): { traced: number; produced: number } {
  let traced = 0, produced = 0;
  for (const [ba, n] of hour.nodes) {
    const inflow = [...r.flows.values()].reduce((t, row) => t + (row.get(ba) ?? 0), 0);
    const outflow = [...(r.flows.get(ba)?.values() ?? [])].reduce((t, v) => t + v, 0);
    traced += (r.intensity.get(ba) ?? 0) * (n.generation + inflow - outflow);
    produced += n.emissions;
  }
  return { traced, produced };
}

// ---- properties -------------------------------------------------------------------------------

const FACTORS = [820, 490, 650, 12, 24, 11, 45, 38, 700];

/** A random system: each BA has a few (factor, MWh > 0) sources and random consistent flows between pairs. */
const systemArb = fc.integer({ min: 1, max: 7 }).chain((n) => fc.record({
  gens: fc.array(fc.array(fc.record({ factor: fc.constantFrom(...FACTORS), mwh: fc.double({ min: 1, max: 5_000, noNaN: true }) }), { minLength: 1, maxLength: 4 }), { minLength: n, maxLength: n }),
  flows: fc.array(fc.record({ a: fc.nat(n - 1), b: fc.nat(n - 1), mw: fc.double({ min: -3_000, max: 3_000, noNaN: true }) }), { maxLength: 3 * n }),
}));

function toHour(s: { gens: Array<Array<{ factor: number; mwh: number }>>; flows: Array<{ a: number; b: number; mw: number }> }): TraceHour {
  const nodes = new Map<string, TraceNode>();
  s.gens.forEach((g, i) => nodes.set(`B${i}`, { emissions: g.reduce((t, x) => t + x.factor * x.mwh, 0), generation: g.reduce((t, x) => t + x.mwh, 0) }));
  const interchange: Record<string, Record<string, number>> = {};
  for (const f of s.flows) {
    if (f.a === f.b) continue;
    (interchange[`B${f.a}`] ??= {})[`B${f.b}`] = f.mw;
    (interchange[`B${f.b}`] ??= {})[`B${f.a}`] = -f.mw;
  }
  return { nodes, interchange };
}

describe('flow tracing: properties', () => {
  it('every consumption intensity lies between the lowest and highest factor present', () => {
    fc.assert(fc.property(systemArb, (s) => {
      const present = s.gens.flat().map((g) => g.factor);
      const lo = Math.min(...present), hi = Math.max(...present);
      for (const x of traceHour(toHour(s)).intensity.values()) {
        assert.ok(x !== null && x >= lo - 1e-6 && x <= hi + 1e-6, `${x} outside [${lo}, ${hi}]`);
      }
    }), { numRuns: 300 });
  });

  it('conserves total emissions: Σ x_i · consumption_i = Σ E_i', () => {
    fc.assert(fc.property(systemArb, (s) => {
      const hour = toHour(s);
      const { traced, produced } = emissionBalance(hour, traceHour(hour));
      assert.ok(Math.abs(traced - produced) <= 1e-7 * produced, `${traced} vs ${produced}`);
    }), { numRuns: 300 });
  });

  it('reduces to production-based intensity for an isolated BA', () => {
    fc.assert(fc.property(systemArb, fc.array(fc.record({ factor: fc.constantFrom(...FACTORS), mwh: fc.double({ min: 1, max: 5_000, noNaN: true }) }), { minLength: 1, maxLength: 4 }), (s, own) => {
      const hour = toHour(s);
      const e = own.reduce((t, x) => t + x.factor * x.mwh, 0), g = own.reduce((t, x) => t + x.mwh, 0);
      const nodes = new Map(hour.nodes).set('ISO', { emissions: e, generation: g });
      close(traceHour({ ...hour, nodes }).intensity.get('ISO'), e / g);
    }), { numRuns: 200 });
  });

  it('with BAs that generate nothing: null exactly where no generated energy arrives, bounded and conserved otherwise', () => {
    const withIdle = fc.integer({ min: 1, max: 7 }).chain((n) => fc.record({
      gens: fc.array(fc.array(fc.record({ factor: fc.constantFrom(...FACTORS), mwh: fc.double({ min: 1, max: 5_000, noNaN: true }) }), { maxLength: 2 }), { minLength: n, maxLength: n }),
      // whole MW: subnormal flows make 'the mix of what arrives' meaningless in floating point
      flows: fc.array(fc.record({ a: fc.nat(n - 1), b: fc.nat(n - 1), mw: fc.integer({ min: -3_000, max: 3_000 }) }), { maxLength: 3 * n }),
    }));
    fc.assert(fc.property(withIdle, (s) => {
      const hour = toHour(s);
      // Bounds and conservation on the LU solve: Gauss–Seidel stops on a sweep's change ≤ 1e-9 relative, which round
      // slowly contracting loops (random flows can make a BA export far more than it has) leaves a larger error;
      // which BAs are null is decided before solving, so both solvers must agree on it.
      const r = traceHour(hour, { solver: 'direct' });
      const auto = traceHour(hour);
      assert.deepEqual([...auto.intensity].map(([ba, x]) => [ba, x === null]), [...r.intensity].map(([ba, x]) => [ba, x === null]));
      // reference: BAs reached from a generating BA along the reconciled flows (before anything is dropped)
      const all = new Map<string, Set<string>>();
      for (const f of s.flows) {
        if (f.a === f.b) continue;
        const mw = hour.interchange[`B${f.a}`]![`B${f.b}`]!;
        if (mw === 0) continue;
        const [from, to] = mw > 0 ? [`B${f.a}`, `B${f.b}`] : [`B${f.b}`, `B${f.a}`];
        (all.get(from) ?? all.set(from, new Set()).get(from)!).add(to);
      }
      const reached = new Set([...hour.nodes].filter(([, n]) => n.generation > 0).map(([ba]) => ba));
      const queue = [...reached];
      while (queue.length) for (const to of all.get(queue.pop()!) ?? []) if (!reached.has(to)) { reached.add(to); queue.push(to); }
      const present = s.gens.flat().map((g) => g.factor);
      for (const [ba, x] of r.intensity) {
        assert.equal(x !== null, reached.has(ba), ba);
        if (x !== null) assert.ok(x >= Math.min(...present) - 1e-6 && x <= Math.max(...present) + 1e-6, `${ba} ${x}`);
        else assert.equal(r.flows.has(ba), false, `${ba} exports untraceable energy`);
      }
      const { traced, produced } = emissionBalance(hour, r);
      assert.ok(Math.abs(traced - produced) <= 1e-7 * Math.max(1, produced), `${traced} vs ${produced}`);
    }), { numRuns: 500 });
  });

  it('the iterative solver agrees with the dense LU solve', () => {
    fc.assert(fc.property(systemArb, (s) => {
      const hour = toHour(s);
      const a = traceHour(hour), b = traceHour(hour, { solver: 'direct' });
      for (const [ba, x] of b.intensity) close(a.intensity.get(ba), x!, 1e-7);
    }), { numRuns: 200 });
  });
});

/** The hour restricted to the BAs connected to `ba` by reported interchange (either side, any value). */
function componentOf(hour: TraceHour, ba: string): TraceHour {
  const edges = new Map<string, Set<string>>();
  const link = (a: string, b: string) => (edges.get(a) ?? edges.set(a, new Set()).get(a)!).add(b);
  for (const [a, row] of Object.entries(hour.interchange)) for (const b of Object.keys(row)) { link(a, b); link(b, a); }
  const keep = new Set([ba]);
  const queue = [ba];
  while (queue.length) for (const b of edges.get(queue.pop()!) ?? []) if (!keep.has(b)) { keep.add(b); queue.push(b); }
  return {
    nodes: new Map([...hour.nodes].filter(([c]) => keep.has(c))),
    interchange: Object.fromEntries(Object.entries(hour.interchange).filter(([c]) => keep.has(c))),
    reportsInterchange: new Set([...hour.reportsInterchange ?? []].filter((c) => keep.has(c))),
  };
}

/**
 * Several islands of BAs (interchange only inside each), with BAs that generate nothing, one-sided and
 * disagreeing reports, missing values, and neighbours without data (X…) that are not in the system.
 */
const islandsArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }).chain((sizes) => {
  const names = sizes.flatMap((k, g) => Array.from({ length: k }, (_, i) => ({ ba: `G${g}B${i}`, island: g })));
  const report = fc.record({
    a: fc.nat(names.length - 1), b: fc.nat(names.length - 1), outside: fc.boolean(),
    mw: fc.oneof(fc.double({ min: -3_000, max: 3_000, noNaN: true }), fc.constant(null)),
  });
  return fc.record({
    nodes: fc.array(fc.option(fc.record({ emissions: fc.double({ min: 0, max: 4e6, noNaN: true }), generation: fc.double({ min: 0, max: 5_000, noNaN: true }) }), { nil: undefined, freq: 6 }), { minLength: names.length, maxLength: names.length }),
    reports: fc.array(report, { maxLength: 4 * names.length }),
  }).map(({ nodes, reports }): TraceHour => {
    const hour = { nodes: new Map<string, TraceNode>(), interchange: {} as Record<string, Record<string, number | null>>, reportsInterchange: new Set<string>() };
    names.forEach((n, i) => { const v = nodes[i]; if (v) hour.nodes.set(n.ba, { emissions: v.generation > 0 ? v.emissions : 0, generation: v.generation }); });
    for (const r of reports) {
      const a = names[r.a]!;
      // a partner on the same island (the b-th BA there, wrapping), or a neighbour outside EIA-930
      const island = names.filter((n) => n.island === a.island);
      const b = r.outside ? `X${a.island}` : island[r.b % island.length]!.ba;
      if (b === a.ba) continue;
      (hour.interchange[a.ba] ??= {})[b] = r.mw;
      hour.reportsInterchange.add(a.ba);
    }
    return hour;
  });
});

describe('flow tracing: a BA depends only on the BAs connected to it', () => {
  it('tracing only the component that reaches a BA gives what tracing the whole system gives (property)', () => {
    fc.assert(fc.property(islandsArb, fc.nat(), fc.constantFrom('auto' as const, 'direct' as const), (hour, pick, solver) => {
      const whole = traceHour(hour, { solver });
      const codes = [...hour.nodes.keys()];
      if (codes.length === 0) return;
      const ba = codes[pick % codes.length]!;
      const part = componentOf(hour, ba);
      const alone = traceHour(part, { solver });
      assert.ok(part.nodes.size <= hour.nodes.size);
      for (const c of part.nodes.keys()) {
        assert.equal(alone.intensity.get(c), whole.intensity.get(c), c);
        assert.deepEqual([...alone.flags.get(c) ?? []], [...whole.flags.get(c) ?? []], c);
        assert.deepEqual(alone.flows.get(c), whole.flows.get(c), c);
      }
    }), { numRuns: 1_000 });
  });

  it('the same on the real network: every BA of 12 real hours, component alone vs whole system', sharedDataTest(), () => {
    const system = readWideFile(sharedPath('eia930/gridemissions/E_raw_2021-07-10_2021-07-20.csv'), 12);
    const lookups = systemLookups(system, 'lifecycle');
    for (let i = 0; i < system.ts.length; i++) {
      const { hour } = systemHour(system, i, lookups);
      const whole = traceHour(hour);
      for (const ba of hour.nodes.keys()) {
        const alone = traceHour(componentOf(hour, ba));
        assert.equal(alone.intensity.get(ba), whole.intensity.get(ba), `${ba} hour ${i}`);
        assert.deepEqual([...alone.flags.get(ba) ?? []], [...whole.flags.get(ba) ?? []], `${ba} hour ${i}`);
      }
    }
  });
});

// ---- real EIA-930 hours (gridemissions' raw wide file: every BA, 2021-07-10..20) ----------------

/** The first `hours` hours of a gridemissions wide file, read by the ingestion's reader (ingest/gridemissions.ts). */
function readWideFile(file: string, hours: number): SystemHours {
  const { points } = parseGridemissionsCsv(readFileSync(file, 'utf8'));
  const ts = [...new Set(points.map((p) => p.ts.getTime()))].sort((a, b) => a - b).slice(0, hours).map((t) => new Date(t));
  const series = new Map<string, SeriesRow>();
  for (const p of points) {
    const { type, subtype } = pointSeries(p);
    if (type !== 'generation_by_fuel' && type !== 'ba_interchange') continue;
    const key = `${p.ba}|${type}|${subtype}`;
    let s = series.get(key);
    if (!s) series.set(key, (s = { ba: p.ba, type, subtype, source: 'eia', ms: [], vals: [] }));
    if (p.value !== null) { s.ms.push(p.ts.getTime()); s.vals.push(p.value); }
  }
  return toSystem(ts, [...series.values()]);
}

describe('flow tracing on real EIA-930 hours', () => {
  it('traces every BA of 48 real hours: bounded, conserved, isolated BAs unchanged', sharedDataTest(), () => {
    const system = readWideFile(sharedPath('eia930/gridemissions/E_raw_2021-07-10_2021-07-20.csv'), 48);
    const points = consumptionPoints(system, 'lifecycle');
    let valued = 0;
    for (const [ba, list] of points) {
      const fuels = system.fuels.get(ba);
      list.forEach((p, i) => {
        if (p.value === null) return;
        valued++;
        assert.ok(p.value >= 11 - 1e-6 && p.value <= 820 + 1e-6, `${ba} ${p.ts.toISOString()} ${p.value}`);
        if (!system.interchange.has(ba) && fuels) {
          const own = productionHour(Object.fromEntries(Object.entries(fuels).map(([k, v]) => [k, v[i] ?? null])), factorLookup('lifecycle', ba));
          close(p.value, own.value!);
        }
      });
    }
    assert.ok(valued > 40 * 48, `only ${valued} BA-hours traced`);
    // BPAT imports from BCHA (British Columbia, no EIA fuel data): those hours must say so.
    const bcha = system.interchange.get('BPAT')!['BCHA']!;
    points.get('BPAT')!.forEach((p, i) => {
      if ((bcha[i] ?? 0) < 0) assert.ok(p.flags.includes('neighbour-missing'), p.ts.toISOString());
    });
    // Conservation on the real network, hour by hour.
    const lookups = systemLookups(system, 'lifecycle');
    for (let i = 0; i < system.ts.length; i++) {
      const { hour } = systemHour(system, i, lookups);
      const { traced, produced } = emissionBalance(hour, traceHour(hour));
      assert.ok(Math.abs(traced - produced) <= 1e-6 * produced, `hour ${i}: ${traced} vs ${produced}`);
    }
  });
});
