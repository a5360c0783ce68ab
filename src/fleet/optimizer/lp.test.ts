import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { plan, planObjective, type Battery, type PlanInput } from './lp.ts';
import { ruleDispatch } from './rule.ts';

const ideal: Battery = { capacityKWh: 1, powerKW: 1, chargeEfficiency: 1, dischargeEfficiency: 1 };
const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);
const base = (over: Partial<PlanInput>): PlanInput => ({
  stepHours: 1, battery: ideal, initialSoCKWh: 0, importPrice: [1, 3], exportPrice: [1, 3], loadKW: [0, 0], terminalValue: 0, ...over,
});

test('hand-solved: buy 1 kWh at $1, sell it at $3 → objective −2', async () => {
  const p = await plan(base({}));
  assert.equal(p.method, 'lp');
  close(p.objective, -2);
  assert.deepEqual(p.chargeKW.map((v) => +v.toFixed(6)), [1, 0]);
  assert.deepEqual(p.dischargeKW.map((v) => +v.toFixed(6)), [0, 1]);
  assert.deepEqual(p.socKWh.map((v) => +v.toFixed(6)), [1, 0]);
  assert.deepEqual(p.exportKW.map((v) => +v.toFixed(6)), [0, 1]);
});

test('hand-solved: efficiencies 0.9 each way — at $1 → $1.2 cycling loses, at $1 → $2 it earns 2 × 0.81 − 1', async () => {
  const lossy = { ...ideal, chargeEfficiency: 0.9, dischargeEfficiency: 0.9 };
  const flat = await plan(base({ battery: lossy, importPrice: [1, 1.2], exportPrice: [1, 1.2] }));
  close(flat.chargeKW[0]!, 0);
  close(flat.objective, 0);
  const wide = await plan(base({ battery: lossy, importPrice: [1, 2], exportPrice: [1, 2] }));
  close(wide.chargeKW[0]!, 1);              // 0.9 kWh stored
  close(wide.socKWh[0]!, 0.9);
  close(wide.dischargeKW[1]!, 0.81);        // 0.9 kWh out of the cells is 0.81 kWh at the meter
  close(wide.objective, 1 - 2 * 0.81);
});

test('hand-solved: no export — the battery only covers the home load (0.5 kW at $3)', async () => {
  const p = await plan(base({ loadKW: [0, 0.5], noExport: true }));
  close(p.chargeKW[0]!, 0.5);
  close(p.dischargeKW[1]!, 0.5);
  assert.deepEqual(p.exportKW.map((v) => +v.toFixed(6)), [0, 0]);
  close(p.objective, 0.5);                  // pays 0.5 kWh at $1 instead of 0.5 kWh at $3
});

test('hand-solved: the end-of-horizon value fills the battery when stored energy is worth more than it costs', async () => {
  const p = await plan(base({ importPrice: [1], exportPrice: [1], loadKW: [0], terminalValue: 2 }));
  close(p.socKWh[0]!, 1);
  close(p.objective, 1 - 2);
});

test('hand-solved: a carbon price shifts consumption to the cleaner hour at equal prices; without it nothing moves', async () => {
  const input = base({ importPrice: [1, 1], exportPrice: null, loadKW: [0, 1], intensity: [100, 500], degradationCost: 0.01, noExport: true });
  const cost = await plan(input);
  close(cost.chargeKW[0]!, 0);
  const green = await plan({ ...input, carbonPrice: 1000 }); // 1000 $/t × 100 g = $0.1/kWh, × 500 g = $0.5/kWh
  close(green.chargeKW[0]!, 1);
  close(green.dischargeKW[1]!, 1);
  close(green.objective, 1.1 + 0.02);        // 1 kWh at $1 + $0.1 carbon, plus 2 kWh of wear at $0.01
});

test('soft bounds: a reserve the battery cannot reach in time is a penalised shortfall, not an infeasible plan', async () => {
  const p = await plan(base({ importPrice: [1], exportPrice: [1], loadKW: [0], battery: { ...ideal, powerKW: 0.2, reserveKWh: 0.5 } }));
  assert.equal(p.method, 'lp');
  close(p.chargeKW[0]!, 0.2);                // charges all it can towards the reserve
  close(p.objective, 0.2 + 10 * 0.3);        // energy + penalty $10/kWh × 0.3 kWh short
});

test('solver failure: the rule plans instead and the plan says why', async () => {
  const p = await plan({ ...base({}), timeLimitS: 0 });
  assert.equal(p.method, 'rule-fallback');
  assert.match(p.fallbackReason ?? '', /HiGHS/);
  assert.equal(p.chargeKW.length, 2);
});

test('malformed input is refused with a RangeError naming the field', async () => {
  await assert.rejects(plan(base({ loadKW: [1] })), /loadKW has 1 steps/);
  await assert.rejects(plan(base({ battery: { ...ideal, chargeEfficiency: 1.2 } })), /efficiencies/);
});

// ---- properties ----

const battery = fc.record({
  capacityKWh: fc.double({ min: 1, max: 30, noNaN: true }),
  powerKW: fc.double({ min: 0.5, max: 10, noNaN: true }),
  chargeEfficiency: fc.double({ min: 0.8, max: 1, noNaN: true }),
  dischargeEfficiency: fc.double({ min: 0.8, max: 1, noNaN: true }),
  reserveKWh: fc.double({ min: 0, max: 1, noNaN: true }),
});
const scenario = fc.integer({ min: 1, max: 48 }).chain((n) => fc.record({
  battery,
  socFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  prices: fc.array(fc.double({ min: -0.05, max: 0.5, noNaN: true }), { minLength: n, maxLength: n }),
  load: fc.array(fc.double({ min: 0, max: 8, noNaN: true }), { minLength: n, maxLength: n }),
  stepHours: fc.constantFrom(0.25, 0.5, 1),
  noExport: fc.boolean(),
  degradation: fc.double({ min: 0, max: 0.05, noNaN: true }),
}));
interface Scenario { battery: Battery; socFraction: number; prices: number[]; load: number[]; stepHours: number; noExport: boolean; degradation: number }
const inputOf = (s: Scenario): PlanInput => ({
  stepHours: s.stepHours, battery: s.battery, initialSoCKWh: s.socFraction * s.battery.capacityKWh,
  importPrice: s.prices, exportPrice: s.prices, loadKW: s.load, noExport: s.noExport, degradationCost: s.degradation,
});

test('property: a plan never violates power, SoC or export limits and follows the SoC dynamics', async () => {
  await fc.assert(fc.asyncProperty(scenario, async (s) => {
    const input = inputOf(s);
    const p = await plan(input);
    const b = input.battery, eps = 1e-6;
    let soc = input.initialSoCKWh;
    for (let t = 0; t < p.chargeKW.length; t++) {
      const c = p.chargeKW[t]!, d = p.dischargeKW[t]!;
      assert.ok(c >= -eps && c <= b.powerKW + eps && d >= -eps && d <= b.powerKW + eps, `power at ${t}`);
      soc += (b.chargeEfficiency * c - d / b.dischargeEfficiency) * input.stepHours;
      close(p.socKWh[t]!, soc, 1e-5);
      assert.ok(soc >= -eps && soc <= b.capacityKWh + eps, `SoC ${soc} at ${t}`);
      close(p.importKW[t]! - p.exportKW[t]!, input.loadKW[t]! + c - d, 1e-5);
      if (input.noExport) assert.ok(p.exportKW[t]! <= eps, `export ${p.exportKW[t]} at ${t}`);
    }
  }), { numRuns: 150 });
});

test('property: the optimum is at least as good as the rule and as any random feasible plan (perfect foresight ≥ any plan)', async () => {
  const fractions = fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 48, maxLength: 48 });
  await fc.assert(fc.asyncProperty(scenario, fractions, async (s, f) => {
    const input = inputOf(s);
    const best = await plan(input);
    const b = input.battery, dt = input.stepHours;
    // a random plan made feasible: charge (f > 0) or discharge (f < 0) a fraction of what power and SoC allow
    const other = { chargeKW: [] as number[], dischargeKW: [] as number[], socKWh: [] as number[] };
    let soc = input.initialSoCKWh;
    for (let t = 0; t < s.prices.length; t++) {
      const x = f[t]!;
      const maxC = Math.min(b.powerKW, (b.capacityKWh - soc) / (b.chargeEfficiency * dt));
      const maxD = Math.min(b.powerKW, (soc * b.dischargeEfficiency) / dt, input.noExport ? s.load[t]! : Infinity);
      const c = x > 0 ? x * maxC : 0, d = x < 0 ? -x * maxD : 0;
      soc += (b.chargeEfficiency * c - d / b.dischargeEfficiency) * dt;
      other.chargeKW.push(c); other.dischargeKW.push(d); other.socKWh.push(soc);
    }
    const tol = 1e-6 * (1 + Math.abs(best.objective));
    assert.ok(best.objective <= planObjective(input, other) + tol, `LP ${best.objective} > random ${planObjective(input, other)}`);
    const rule = ruleDispatch(input);
    assert.ok(best.objective <= planObjective(input, rule) + tol, `LP ${best.objective} > rule ${planObjective(input, rule)}`);
    close(planObjective(input, best), best.objective, 1e-5 * (1 + Math.abs(best.objective)));
  }), { numRuns: 150 });
});

test('property: zero spread → no cycling (a flat positive price never makes a lossy battery charge)', async () => {
  await fc.assert(fc.asyncProperty(scenario, fc.double({ min: 0.01, max: 0.5, noNaN: true }), async (s, price) => {
    const input = { ...inputOf(s), importPrice: s.prices.map(() => price), exportPrice: s.prices.map(() => price) };
    input.battery = { ...input.battery, chargeEfficiency: Math.min(input.battery.chargeEfficiency, 0.99), reserveKWh: 0 };
    const p = await plan(input);
    const charged = p.chargeKW.reduce((a, v) => a + v, 0);
    assert.ok(charged <= 1e-6, `charged ${charged} kW·steps at a flat price`);
  }), { numRuns: 150 });
});

// ---- OpenADR event inputs: setpoints and capacity limits ----

test('hand-solved: a discharge setpoint is followed against the prices, as far as the SoC allows; a charge setpoint likewise', async () => {
  // prices say charge now, sell later; a setpoint of −0.4 kW in step 0 asks the opposite
  const p = await plan(base({ initialSoCKWh: 0.3, setpointKW: [-0.4, null] }));
  close(p.chargeKW[0]!, 0);
  close(p.dischargeKW[0]!, 0.3);            // only 0.3 kWh is stored: followed as far as the battery can
  close(p.dischargeKW[1]!, 0);
  const q = await plan(base({ importPrice: [3, 1], exportPrice: [3, 1], setpointKW: [0.5, 0] }));
  close(q.chargeKW[0]!, 0.5);               // charges at $3 because asked to, at most the setpoint
  close(q.dischargeKW[1]!, 0);              // setpoint 0: idle
  close(planObjective(base({ importPrice: [3, 1], exportPrice: [3, 1], setpointKW: [0.5, 0] }), q), q.objective);
  // the rule fallback follows setpoints too
  const r = ruleDispatch(base({ initialSoCKWh: 0.3, setpointKW: [-0.4, 0.2], localHour: [12, 12] }));
  assert.deepEqual([+r.dischargeKW[0]!.toFixed(6), +r.chargeKW[1]!.toFixed(6)], [0.3, 0.2]);
});

test('hand-solved: an import limit caps the charge from the grid, never the home\'s own load; an export limit caps the sale', async () => {
  const p = await plan(base({ loadKW: [0.3, 0], importLimitKW: [0.5, null], exportLimitKW: [null, 0.6] }));
  close(p.importKW[0]!, 0.5);               // 0.3 kW load + 0.2 kW charge
  close(p.chargeKW[0]!, 0.2);
  close(p.exportKW[1]!, 0.2);               // all it has; below the 0.6 kW limit
  const q = await plan(base({ loadKW: [2, 0], importLimitKW: [1, null] }));
  close(q.importKW[0]!, 2);                 // the load above the limit is still served
  close(q.chargeKW[0]!, 0);
  const r = await plan(base({ initialSoCKWh: 1, importPrice: [3, 3], exportPrice: [3, 3], exportLimitKW: [0.25, 0.25] }));
  close(r.exportKW[0]! + r.exportKW[1]!, 0.5);
});

test('property: with setpoints and capacity limits a plan never goes against a setpoint nor beyond it, never beyond a limit, and its objective is planObjective', async () => {
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 2 });
  const events = fc.array(fc.record({ sp: opt(fc.double({ min: -10, max: 10, noNaN: true })), imp: opt(fc.double({ min: 0, max: 10, noNaN: true })), exp: opt(fc.double({ min: 0, max: 10, noNaN: true })) }), { minLength: 48, maxLength: 48 });
  await fc.assert(fc.asyncProperty(scenario, events, async (s, ev) => {
    const n = s.prices.length;
    const input: PlanInput = { ...inputOf(s), setpointKW: ev.slice(0, n).map((e) => e.sp), importLimitKW: ev.slice(0, n).map((e) => e.imp), exportLimitKW: ev.slice(0, n).map((e) => e.exp) };
    const p = await plan(input);
    assert.equal(p.method, 'lp');
    const eps = 1e-6;
    for (let t = 0; t < n; t++) {
      const { sp, imp, exp } = ev[t]!;
      const c = p.chargeKW[t]!, d = p.dischargeKW[t]!;
      if (sp !== null) {
        assert.ok(sp > 0 ? d <= eps && c <= sp + eps : sp < 0 ? c <= eps && d <= -sp + eps : c <= eps && d <= eps, `step ${t}: setpoint ${sp}, c ${c}, d ${d}`);
      }
      if (imp !== null) assert.ok(p.importKW[t]! <= Math.max(imp, s.load[t]!) + 1e-5, `step ${t}: import ${p.importKW[t]} > limit ${imp}`);
      if (exp !== null) assert.ok(p.exportKW[t]! <= exp + 1e-5, `step ${t}: export ${p.exportKW[t]} > limit ${exp}`);
    }
    close(planObjective(input, p), p.objective, 1e-5 * (1 + Math.abs(p.objective)));
  }), { numRuns: 100 });
});
