import { consumptionPoints, systemHour, systemLookups, type SystemHours } from '../src/analytics/intensity/intensity.ts';
import { traceHour } from '../src/analytics/intensity/flow-tracing.ts';
import { envInt, seeded } from './support.ts';

/**
 * Consumption-based intensity (flow tracing) for every BA over one year of hours, on a synthetic
 * system held in memory: 65 BAs with fuel data and 8 neighbours without (like Canadian and Mexican BAs),
 * each BA linked to 2–4 others, about 2 % of the pair reports disagreeing and 0.5 % of the values missing.
 * Prints the time and hours/s of the whole pipeline (production per BA + trace), and of the dense LU solve alone.
 */

const BAS = 65;
const EXTERNAL = 8;
const HOURS = envInt('BENCH_INTENSITY_HOURS', 8760);
const FUELS = ['COL', 'NG', 'NUC', 'OIL', 'WAT', 'SUN', 'WND', 'OTH', 'BAT'];

export function syntheticSystem(hours: number, seed = 42): SystemHours {
  const rand = seeded(seed);
  const ts = Array.from({ length: hours }, (_, h) => new Date(Date.UTC(2024, 0, 1) + h * 3_600_000));
  const code = (i: number) => (i < BAS ? `B${i}` : `X${i - BAS}`);
  const maybe = (v: number) => (rand() < 0.005 ? null : v);
  const system: SystemHours = { ts, fuels: new Map(), interchange: new Map(), sources: new Map() };
  for (let b = 0; b < BAS; b++) {
    const scale = 200 + rand() * (b % 10 === 0 ? 60_000 : 6_000);
    const fuels: Record<string, (number | null)[]> = {};
    for (const f of FUELS) {
      if (rand() < 0.35) continue;
      const share = rand();
      fuels[f] = ts.map((_, h) => maybe(f === 'SUN' ? scale * share * Math.max(-0.01, Math.sin(((h % 24) - 6) / 12 * Math.PI))
        : f === 'BAT' ? scale * 0.05 * Math.sin(h / 3) : scale * share * (0.7 + 0.3 * rand())));
    }
    system.fuels.set(code(b), fuels);
    system.sources.set(code(b), new Set(['simulated']));
  }
  for (let b = 0; b < BAS + EXTERNAL; b++) {
    const links = 2 + Math.floor(rand() * 3);
    for (let k = 0; k < links; k++) {
      const other = (b + 1 + Math.floor(rand() * 6)) % (BAS + EXTERNAL);
      if (other === b) continue;
      const a = code(b), o = code(other);
      const size = 50 + rand() * 2_000;
      const flow = ts.map((_, h) => size * Math.sin(h / 7 + b));
      const rowA = system.interchange.get(a) ?? system.interchange.set(a, {}).get(a)!;
      const rowO = system.interchange.get(o) ?? system.interchange.set(o, {}).get(o)!;
      rowA[o] = flow.map((v) => maybe(v));
      rowO[a] = flow.map((v) => maybe(rand() < 0.02 ? -v * 0.6 : -v));
    }
  }
  return system;
}

function rate(label: string, hours: number, ms: number): void {
  console.log(`${label.padEnd(44)} ${(ms / 1000).toFixed(2).padStart(7)} s   ${Math.round(hours / (ms / 1000)).toLocaleString('en-US').padStart(9)} hours/s`);
}

export async function benchIntensityYear(): Promise<void> {
  const t0 = performance.now();
  const system = syntheticSystem(HOURS);
  console.log(`synthetic system: ${BAS} BAs with fuel data + ${EXTERNAL} without, ${[...system.interchange.values()].reduce((t, r) => t + Object.keys(r).length, 0)} reported pairs, ${HOURS} hours (built in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const t1 = performance.now();
  const points = consumptionPoints(system, 'lifecycle');
  const all = performance.now() - t1;
  let values = 0;
  for (const list of points.values()) for (const p of list) if (p.value !== null) values++;
  rate('production + flow tracing, all BAs (auto)', HOURS, all);
  console.log(`  ${values.toLocaleString('en-US')} BA-hours with a consumption intensity`);

  const lookups = systemLookups(system, 'lifecycle');
  const sample = Math.min(HOURS, 1000);
  let fallbacks = 0;
  for (let i = 0; i < HOURS; i++) if (traceHour(systemHour(system, i, lookups).hour).solver === 'direct') fallbacks++;
  console.log(`  iterative solver fell back to LU in ${fallbacks} of ${HOURS} hours`);
  const t2 = performance.now();
  for (let i = 0; i < sample; i++) traceHour(systemHour(system, i, lookups).hour, { solver: 'direct' });
  rate(`same with dense LU only (first ${sample} hours)`, sample, performance.now() - t2);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchIntensityYear();
