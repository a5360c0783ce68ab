import { performance } from 'node:perf_hooks';
import { aggregatesOf } from '../src/egrid/egrid-analytics.ts';
import { plantFigures } from '../src/egrid/egrid-analytics-repository.ts';
import { aggregatePlants } from '../src/egrid/egrid-rates.ts';
import { baEmissionFactors } from '../src/egrid/emission-factors.ts';
import { insertPlants, plant } from '../src/egrid/egrid-test-support.ts';
import { envInt, fmt, openEngineDb, percentile, printTable, seeded } from './support.ts';

/**
 * eGRID aggregates of a national-size plant year (EGRID_PLANTS, default 12,000 plants, about eGRID2022's count):
 * the uncached work behind GET /api/v1/egrid/aggregates?by=state (read the year's plant figures, sum in
 * JavaScript with non-baseload weighting and resource mix, join EPA's rows) against a reference, the plain SQL
 * GROUP BY of the same sums and output rate in the database, in the same run. Also the per-BA emission
 * factors (the egrid-YYYY factor set). Prints p50/p95 over RUNS after warm-up, and the ratio reference / ours
 * (1 = as fast as the database's own GROUP BY). PGlite by default; PostgreSQL with DATABASE_URL.
 */
const RUNS = 20;
const STATES = ['AL', 'AZ', 'CA', 'CO', 'FL', 'GA', 'IA', 'IL', 'IN', 'KS', 'MI', 'MN', 'MO', 'NC', 'ND', 'NE', 'NY', 'OH', 'OK', 'PA', 'TX', 'VA', 'WA', 'WI'];
const BAS = ['MISO', 'PJM', 'ERCO', 'CISO', 'SWPP', 'SOCO', 'TVA', 'NYIS', 'ISNE', 'BPAT'];
const FUELS = [['COAL', 'SUB'], ['GAS', 'NG'], ['OIL', 'DFO'], ['WIND', 'WND'], ['SOLAR', 'SUN'], ['HYDRO', 'WAT'], ['NUCLEAR', 'NUC'], ['BIOMASS', 'WDS']] as const;

async function sample(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 3; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) { const t0 = performance.now(); await fn(); out.push(performance.now() - t0); }
  return out;
}

export async function benchEgrid(): Promise<void> {
  const n = envInt('EGRID_PLANTS', 12_000);
  const { db, drop } = await openEngineDb('bench_egrid');
  try {
    const rnd = seeded(7);
    const plants = Array.from({ length: n }, (_, i) => {
      const [cat, prm] = FUELS[Math.floor(rnd() * FUELS.length)]!;
      const mw = 1 + rnd() * 800, cf = rnd() * 0.9, gen = mw * cf * 8760;
      const rate = cat === 'COAL' ? 2000 + rnd() * 400 : cat === 'GAS' ? 800 + rnd() * 600 : cat === 'OIL' ? 1500 + rnd() * 800 : 0;
      return plant({ orispl: i + 1, plantName: `P${i}`, state: STATES[i % STATES.length]!, baCode: BAS[i % BAS.length]!, subregion: `SR${i % 26}`, fuelCategory: cat, primaryFuel: prm,
        nameplateMw: mw, capacityFactor: cf, netGenerationMwh: gen, co2ShortTons: (rate * gen) / 2000, heatInputMmbtu: gen * 9, genGasMwh: cat === 'GAS' ? gen : null, genCoalMwh: cat === 'COAL' ? gen : null });
    });
    await insertPlants(db, 2022, plants);
    // uncached: before every run a row of another year changes the store version, so the year is read again
    let bump = 0;
    const ours = await sample(async () => {
      await db.query(`INSERT INTO egrid_plants (data_year, orispl) VALUES (1999, $1)`, [++bump]);
      return aggregatesOf(db, 2022, 'state');
    });
    const memoised = await sample(() => aggregatesOf(db, 2022, 'state'));
    const sql = `SELECT state, count(*) AS plants, sum(nameplate_mw) AS mw, sum(net_generation_mwh) AS gen, sum(co2_short_tons) AS co2, sum(nox_short_tons) AS nox,
      sum(so2_short_tons) AS so2, sum(heat_input_mmbtu) AS heat, 2000 * sum(co2_short_tons) / nullif(sum(net_generation_mwh), 0) AS co2_rate
      FROM egrid_plants WHERE data_year = $1 GROUP BY state ORDER BY state`;
    const reference = await sample(() => db.query(sql, [2022]));
    // the two must agree before their times mean anything
    const [a, b] = [await aggregatesOf(db, 2022, 'state'), await db.query<{ state: string; co2_rate: number }>(sql, [2022])];
    for (const r of b) {
      const mine = a.find((x) => x.key === r.state)!;
      if (Math.abs(mine.co2Rate! - Number(r.co2_rate)) > 1e-6 * mine.co2Rate!) throw new Error(`${r.state}: ${mine.co2Rate} vs SQL ${r.co2_rate}`);
    }
    const figures = await plantFigures(db, 2022);
    const pure = await sample(async () => aggregatePlants(figures, 'state'));
    const factors = await sample(async () => baEmissionFactors(await plantFigures(db, 2022)));
    await db.query(`DELETE FROM egrid_plants WHERE data_year = 1999`);
    const row = (name: string, s: number[]) => [name, fmt(percentile(s, 50), 1), fmt(percentile(s, 95), 1)];
    printTable(`eGRID aggregates, ${fmt(n)} plants, ${db.kind}`, ['work', 'p50 ms', 'p95 ms'], [
      row('GET /egrid/aggregates?by=state, uncached (read + sum + EPA join)', ours),
      row('the same with the year\'s figures already read (memo per store version)', memoised),
      row('reference: SQL GROUP BY of the same sums in the database', reference),
      row('the JavaScript sums alone (figures in memory)', pure),
      row('egrid-YYYY factor set: per-BA factors (figures read)', factors),
    ]);
    console.log(`ratio reference / ours (p50): uncached ${fmt(percentile(reference, 50) / percentile(ours, 50), 2)}, figures already read ${fmt(percentile(reference, 50) / percentile(memoised, 50), 2)}`);
  } finally {
    await drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchEgrid();
