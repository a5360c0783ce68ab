import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { WorkerPool } from '../src/platform/off-loop.ts';
import { buildModel, highs, planWith, type Plan, type PlanInput } from '../src/fleet/optimizer/lp.ts';
import { parsePriceFile } from '../src/fleet/prices/price-files.ts';
import { envInt, fmt, percentile, printTable, seeded } from './support.ts';

const LP_MODULE = new URL('../src/fleet/optimizer/lp.ts', import.meta.url).href;

/** Hourly Western Hub DA prices 2024 ($/kWh) from the shared data, or a synthetic day shape when it is absent. */
function hourlyPrices(): number[] {
  const candidates = ['../../shared/data', '../../../shared/data'].map((rel) => path.resolve(fileURLToPath(new URL(rel, import.meta.url))));
  const dir = candidates.find((d) => existsSync(d));
  if (dir) return parsePriceFile(readFileSync(path.join(dir, 'prices/pjm/pjm_western_hub_da_hrl_lmps_2024.csv'), 'utf8')).points.map((p) => p.price / 1000);
  return Array.from({ length: 24 * 366 }, (_, i) => 0.03 + 0.02 * Math.sin(((i % 24) - 8) / 24 * 2 * Math.PI));
}

/** A 96-step (15-minute, 24-hour) plan input for device `i`: its own start day, SoC, load and battery size. */
function deviceInput(prices: number[], i: number, rand: () => number): PlanInput {
  const day = Math.floor(rand() * (prices.length / 24 - 2));
  const price = Array.from({ length: 96 }, (_, k) => prices[day * 24 + Math.floor(k / 4)]! + 0.12);
  const capacity = 5 + rand() * 15;
  return {
    stepHours: 0.25,
    battery: { capacityKWh: capacity, powerKW: 2 + rand() * 6, chargeEfficiency: 0.95, dischargeEfficiency: 0.95, reserveKWh: 0.1 * capacity },
    initialSoCKWh: rand() * capacity,
    importPrice: price, exportPrice: price.map((p) => p - 0.12),
    loadKW: Array.from({ length: 96 }, (_, k) => 0.4 + 1.5 * rand() * (k >= 68 && k < 88 ? 2 : 1)),
    intensity: Array.from({ length: 96 }, (_, k) => 350 + 150 * Math.sin(k / 96 * 2 * Math.PI)),
    carbonPrice: 50, degradationCost: 0.01,
    localHour: Array.from({ length: 96 }, (_, k) => Math.floor(k / 4)),
  };
}

/**
 * `npm run bench -- optimizer`:
 * 1. one 96-step plan (15-minute steps over 24 h: model built, solved by HiGHS, plan read back), median of N runs over
 *    50 different devices in turn, against HiGHS alone on the same bare LPs (one-shot `lpCall` of the prebuilt
 *    models, cold: no warm start, default options) in the same run;
 * 2. 10,000 device plans on a pool of 2 worker threads (batches of 100), against the same plans on this one thread
 *    (a 1,000-plan sample, scaled), in the same run. Targets: < 5 ms median; < 20 s for 10,000 on 2 cores.
 */
export async function benchOptimizer(): Promise<void> {
  const prices = hourlyPrices();
  const rand = seeded(15);
  const h = await highs();
  const runs = envInt('BENCH_OPT_RUNS', 300);
  // 50 different devices in turn: each plan warm-starts from ANOTHER device's basis, as in a fleet (never its own)
  const sample = Array.from({ length: 50 }, (_, i) => deviceInput(prices, i, rand));
  const models = sample.map(buildModel);
  const one = sample[0]!;
  for (let i = 0; i < 20; i++) planWith(h, sample[i % sample.length]!); // JIT warm-up
  const planMs: number[] = [], bareMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    const p = planWith(h, sample[i % sample.length]!);
    planMs.push(performance.now() - t0);
    if (p.method !== 'lp') throw new Error(`plan fell back: ${p.fallbackReason}`);
    t0 = performance.now();
    const r = h.module.raw.lpCall(models[i % models.length]!);
    bareMs.push(performance.now() - t0);
    if (r.status === -1) throw new Error('bare LP failed');
  }
  const planMed = percentile(planMs, 50), bareMed = percentile(bareMs, 50);
  printTable(`optimizer: one 96-step plan (${runs} runs)`, ['', 'median ms', 'p95 ms', 'vs bare LP'], [
    ['plan (build + HiGHS + read)', fmt(planMed, 2), fmt(percentile(planMs, 95), 2), `${fmt(planMed / bareMed, 2)}×`],
    ['HiGHS lpCall on the bare LP', fmt(bareMed, 2), fmt(percentile(bareMs, 95), 2), '1.00×'],
  ]);

  const devices = envInt('BENCH_OPT_DEVICES', 10_000), threads = envInt('BENCH_OPT_THREADS', 2), batch = 100;
  const inputs = Array.from({ length: devices }, (_, i) => deviceInput(prices, i, rand));
  const pool = new WorkerPool(threads);
  try {
    await Promise.all(Array.from({ length: threads }, () => pool.run(LP_MODULE, 'planMany', [[one]]))); // load HiGHS in each thread
    const t0 = performance.now();
    const tasks: Array<Promise<unknown>> = [];
    for (let i = 0; i < devices; i += batch) tasks.push(pool.run(LP_MODULE, 'planMany', [inputs.slice(i, i + batch)]));
    const plans = (await Promise.all(tasks)).flat() as Plan[];
    const poolS = (performance.now() - t0) / 1000;
    const fallbacks = plans.filter((p) => p.method !== 'lp').length;
    const sample = Math.min(1_000, devices);
    const t1 = performance.now();
    for (let i = 0; i < sample; i++) planWith(h, inputs[i]!);
    const oneThreadS = ((performance.now() - t1) / 1000) * (devices / sample);
    printTable(`optimizer: ${fmt(devices)} device plans`, ['', 'seconds', 'plans/s', 'vs one thread'], [
      [`${threads} worker threads (batches of ${batch})`, fmt(poolS, 2), fmt(devices / poolS), `${fmt(oneThreadS / poolS, 2)}× faster`],
      [`one thread (${fmt(sample)} plans, scaled)`, fmt(oneThreadS, 2), fmt(devices / oneThreadS), '1.00×'],
    ]);
    console.log(`rule fallbacks: ${fallbacks} of ${fmt(devices)}`);
  } finally {
    await pool.close();
  }
}
