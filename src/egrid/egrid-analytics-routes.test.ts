import { describe, it, before, after } from 'node:test';
import { systemActor } from '../auth/audit.ts';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { openTestApp } from '../../test/support/app.ts';
import { testDatabases } from '../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import type { Db } from '../platform/db.ts';
import { egridNumber, insertPlants, plant, readCodeCsv } from './egrid-test-support.ts';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { createImport, runImportJob } from './import-jobs.ts';

for (const target of testDatabases()) {
  describe(`eGRID analytics API on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => {
      ({ db, app } = await openTestApp(target));
      await insertPlants(db, 2021, [
        plant({ orispl: 10, plantName: 'Coal One', state: 'MN', baCode: 'MISO', subregion: 'MROW', fuelCategory: 'COAL', primaryFuel: 'SUB', nameplateMw: 800, netGenerationMwh: 4_000_000, co2ShortTons: 4_200_000, capacityFactor: 0.57, genCoalMwh: 4_000_000, genGasMwh: null }),
        plant({ orispl: 20, plantName: 'Gas Two', state: 'IA', baCode: 'MISO', subregion: 'MROW', nameplateMw: 300, netGenerationMwh: 500_000, co2ShortTons: 220_000, capacityFactor: 0.19, genGasMwh: 500_000 }),
      ]);
      await insertPlants(db, 2022, [
        plant({ orispl: 10, plantName: 'Coal One', state: 'MN', baCode: 'MISO', subregion: 'MROW', fuelCategory: 'COAL', primaryFuel: 'SUB', nameplateMw: 800, netGenerationMwh: 3_000_000, co2ShortTons: 3_300_000, capacityFactor: 0.43, genCoalMwh: 3_000_000, genGasMwh: null }),
        plant({ orispl: 20, plantName: '=cmd|\' /C calc\'!A0', state: 'IA', baCode: 'MISO', subregion: 'MROW', nameplateMw: 300, netGenerationMwh: 600_000, co2ShortTons: 250_000, capacityFactor: 0.23, genGasMwh: 600_000 }),
        plant({ orispl: 30, plantName: 'Wind Three', state: 'IA', baCode: 'MISO', subregion: 'MROW', fuelCategory: 'WIND', primaryFuel: 'WND', nameplateMw: 200, netGenerationMwh: 700_000, co2ShortTons: null, capacityFactor: 0.4, genGasMwh: null, genWindMwh: 700_000 }),
        plant({ orispl: 40, plantName: 'Hydro Four', state: 'CO', baCode: 'WACM', subregion: 'RMPA', nercRegion: 'WECC', fuelCategory: 'HYDRO', primaryFuel: 'WAT', nameplateMw: 50, netGenerationMwh: 150_000, co2ShortTons: 0, capacityFactor: 0.34, latitude: 39.5, longitude: -105, genGasMwh: null, genHydroMwh: 150_000 }),
      ]);
      await db.query(`INSERT INTO egrid_aggregates (data_year, level, code, net_generation_mwh, co2_short_tons, co2_rate_lb_per_mwh) VALUES (2022, 'subregion', 'MROW', 4300000, 3550000, 1650.0)`);
      await db.query(`INSERT INTO egrid_generators (data_year, orispl, generator_id, nameplate_mw, primary_fuel) VALUES (2022, 10, '1', 400, 'SUB'), (2022, 10, 'NA', 400, 'SUB')`);
    });
    after(async () => { await app.close(); await db.close(); });

    it('lists plants of the newest year, filtered and sorted, paged', async () => {
      const res = await app.inject('/api/v1/egrid/plants?state=ia&sort=-capacity&pageSize=1');
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.year, 2022);
      assert.equal(body.total, 2);
      assert.deepEqual(body.data.map((p: { orispl: number }) => p.orispl), [20]);
      const page2 = (await app.inject('/api/v1/egrid/plants?state=IA&sort=-capacity&pageSize=1&page=2')).json();
      assert.deepEqual(page2.data.map((p: { orispl: number }) => p.orispl), [30]);
      const gas = (await app.inject('/api/v1/egrid/plants?fuel=gas&minMw=100&maxMw=400')).json();
      assert.deepEqual(gas.data.map((p: { orispl: number }) => p.orispl), [20]);
      assert.equal((await app.inject('/api/v1/egrid/plants?year=2021')).json().total, 2);
    });

    it('refuses bad filters with problem+json naming the field, and an unknown year with 404', async () => {
      for (const [q, field] of [['minMw=abc', 'minMw'], ['sort=drop table', 'sort'], ['minMw=500&maxMw=100', 'minMw'], ['pageSize=100000', 'pageSize'], ['state=Minnesota', 'state']]) {
        const res = await app.inject(`/api/v1/egrid/plants?${q}`);
        assert.equal(res.statusCode, 400, q);
        assert.match(res.headers['content-type'] as string, /problem\+json/);
        assert.equal(res.json().field, field, q);
      }
      const missing = await app.inject('/api/v1/egrid/plants?year=2016');
      assert.equal(missing.statusCode, 404);
      assert.match(missing.json().detail, /2021, 2022|2022, 2021/);
    });

    it('streams every matching plant as CSV with formula-looking names neutralised, and XLSX', async () => {
      const res = await app.inject('/api/v1/egrid/plants?format=csv&sort=orispl');
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /text\/csv/);
      const rows = parse(res.body, { columns: true }) as Array<Record<string, string>>;
      assert.equal(rows.length, 4);
      assert.equal(rows[1]!.plant_name, '\'=cmd|\' /C calc\'!A0');
      const x = await app.inject('/api/v1/egrid/plants?format=xlsx');
      assert.equal(x.statusCode, 200);
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(x.rawPayload as unknown as ArrayBuffer);
      const ws = wb.worksheets[0]!;
      assert.equal(ws.rowCount, 5);
      assert.equal(ws.getCell(3, 2).value, '\'=cmd|\' /C calc\'!A0');
    });

    it('answers one plant with its generators (NA is a real id) and its history', async () => {
      const body = (await app.inject('/api/v1/egrid/plants/10')).json();
      assert.equal(body.plant.plantName, 'Coal One');
      assert.deepEqual(body.generators.map((g: { generatorId: string }) => g.generatorId), ['1', 'NA']);
      assert.deepEqual(body.history.map((h: { year: number; co2RateLbPerMwh: null }) => h.year), [2021, 2022]);
      assert.equal((await app.inject('/api/v1/egrid/plants/999')).statusCode, 404);
      assert.equal((await app.inject('/api/v1/egrid/plants/abc')).statusCode, 400);
    });

    it('aggregates from plants, beside EPA\'s published row and the difference', async () => {
      const body = (await app.inject('/api/v1/egrid/aggregates?by=subregion')).json();
      const mrow = body.data.find((a: { key: string }) => a.key === 'MROW');
      assert.equal(mrow.netGenerationMwh, 4_300_000);
      assert.equal(mrow.co2Tons, 3_550_000);
      assert.ok(Math.abs(mrow.co2Rate - (2000 * 3_550_000) / 4_300_000) < 1e-9);
      assert.equal(mrow.published.co2Rate, 1650);
      assert.ok(Math.abs(mrow.difference.co2Rate - (mrow.co2Rate - 1650) / 1650) < 1e-12);
      assert.equal(body.data.find((a: { key: string }) => a.key === 'RMPA').published, null);
      // non-baseload: coal CF 0.43 → 0.6167, gas CF 0.23 → 0.95; wind and hydro are left out
      const nbGen = 3_000_000 * (-5 / 3 * 0.43 + 4 / 3) + 600_000 * (-5 / 3 * 0.23 + 4 / 3);
      const nbCo2 = 3_300_000 * (-5 / 3 * 0.43 + 4 / 3) + 250_000 * (-5 / 3 * 0.23 + 4 / 3);
      assert.ok(Math.abs(mrow.nonBaseload.co2Rate - 2000 * nbCo2 / nbGen) < 1e-6);
      const fuel = (await app.inject('/api/v1/egrid/aggregates?by=fuel')).json();
      assert.deepEqual(fuel.data.map((a: { key: string }) => a.key), ['COAL', 'GAS', 'HYDRO', 'WIND']);
      const csv = await app.inject('/api/v1/egrid/aggregates?by=subregion&format=csv');
      assert.match(csv.body.split('\n')[0]!, /^key,plants,capacity_mw/);
    });

    it('eGRID emission factors per BA and fuel, kg/MWh', async () => {
      const body = (await app.inject('/api/v1/egrid/emission-factors?ba=miso')).json();
      assert.equal(body.edition, 'eGRID2022');
      const f = Object.fromEntries(body.data[0].factors.map((x: { fuel: string; value: number }) => [x.fuel, x.value]));
      assert.ok(Math.abs(f.COL - 2000 * 3_300_000 / 3_000_000 * 0.4536) < 1e-9);
      assert.equal(f.WND, 0);
      assert.equal((await app.inject('/api/v1/egrid/emission-factors?ba=CISO')).statusCode, 404);
    });

    it('top emitters, rate distribution, year-over-year and the US comparison', async () => {
      const top = (await app.inject('/api/v1/egrid/top-emitters?limit=2')).json();
      assert.deepEqual(top.data.map((e: { orispl: number }) => e.orispl), [10, 20]);
      const inCo = (await app.inject('/api/v1/egrid/top-emitters?by=state&code=CO')).json();
      assert.deepEqual(inCo.data, []);
      assert.equal((await app.inject('/api/v1/egrid/top-emitters?by=state')).statusCode, 400);
      const dist = (await app.inject('/api/v1/egrid/rate-distribution')).json();
      const coal = dist.data.find((d: { fuelCategory: string }) => d.fuelCategory === 'COAL');
      assert.equal(coal.median, 2200);
      const yoy = (await app.inject('/api/v1/egrid/changes?from=2021&to=2022&by=plant')).json();
      const c10 = yoy.data.find((c: { key: string }) => c.key === '10');
      assert.ok(Math.abs(c10.generationChange - (-0.25)) < 1e-12);
      assert.equal(yoy.data.find((c: { key: string }) => c.key === '30').from, null);
      assert.equal((await app.inject('/api/v1/egrid/changes?from=2016&to=2022')).json().field, 'from');
      const cmp = (await app.inject('/api/v1/egrid/compare?level=subregion&code=RMPA')).json();
      assert.equal(cmp.region.co2Rate, 0);
      assert.equal(cmp.ratioToUs.co2Rate, 0);
      assert.equal((await app.inject('/api/v1/egrid/compare?level=ba&code=NOPE')).statusCode, 404);
    });

    it('report data per region, and its tables as CSV and XLSX', async () => {
      const r = (await app.inject('/api/v1/egrid/reports/ba/MISO')).json();
      assert.equal(r.plants, 3);
      assert.equal(r.topEmitters[0].orispl, 10);
      const co2 = r.rates.find((x: { pollutant: string }) => x.pollutant === 'co2');
      assert.ok(co2.ratio > 1, 'MISO here is dirtier than this tiny US');
      const csv = await app.inject('/api/v1/egrid/reports/ba/MISO?format=csv&table=emitters');
      assert.match(csv.body, /'=cmd/);
      const x = await app.inject('/api/v1/egrid/reports/ba/MISO?format=xlsx');
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(x.rawPayload as unknown as ArrayBuffer);
      assert.deepEqual(wb.worksheets.map((w) => w.name), ['Rates', 'Mix', 'Top emitters', 'Plants']);
      assert.equal((await app.inject('/api/v1/egrid/reports/country/US')).statusCode, 400);
    });

    it('a year imported from its generator sheet only is listed with its sheets, answers plant detail from generators, and aggregates name what it has', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'egrid-gen-only-'));
      const file = path.join(dir, 'egrid2043_GEN43.csv');
      writeFileSync(file, ['SEQGEN,YEAR,PSTATABB,PNAME,ORISPL,GENID,NAMEPCAP,CFACT,GENNTAN', '1,2043,AL,Plant Three,3,G1,100,0.5,"1,000"', '2,2043,AL,Plant Three,3,G2,50.5,0.2,250', '3,2043,TX,Other,9,G1,7,0.1,5'].join('\n') + '\n');
      try {
        const importId = await createImport(db, { fileSha256: 'b'.repeat(64), fileName: 'egrid2043_GEN43.csv', source: 'cli' });
        const out = await runImportJob({ db, logger: pino({ level: 'silent' }), importId, actor: systemActor('test'), path: file, fileName: 'egrid2043_GEN43.csv' });
        assert.equal(out?.status, 'succeeded');
      } finally { rmSync(dir, { recursive: true, force: true }); }
      const years = (await app.inject('/api/v1/egrid/years')).json<{ data: { year: number; plants: number; sheets: { kind: string; rows: number }[] }[] }>().data;
      const y43 = years.find((y) => y.year === 2043);
      assert.ok(y43, `2043 listed: ${JSON.stringify(years)}`);
      assert.equal(y43.plants, 0);
      assert.deepEqual(y43.sheets, [{ kind: 'generator', rows: 3 }]);
      assert.ok(years.some((y) => y.year === 2022 && y.plants === 4), 'plant years stay listed with their plant count');
      const detail = await app.inject('/api/v1/egrid/plants/3?year=2043');
      assert.equal(detail.statusCode, 200, detail.body);
      const d = detail.json<{ year: number; plant: { orispl: number; plantName: string; from: string; nameplateMw: number; netGenerationMwh: number }; generators: unknown[] }>();
      assert.deepEqual([d.year, d.plant.orispl, d.plant.plantName, d.plant.from, d.plant.nameplateMw, d.plant.netGenerationMwh, d.generators.length], [2043, 3, 'Plant Three', 'generators', 150.5, 1250, 2]);
      assert.equal((await app.inject('/api/v1/egrid/plants/4?year=2043')).statusCode, 404);
      const agg = await app.inject('/api/v1/egrid/aggregates?year=2043&by=fuel');
      assert.equal(agg.statusCode, 404);
      const problem = agg.json<{ detail: string; field: string }>();
      assert.equal(problem.field, 'year');
      assert.match(problem.detail, /2043 has only generator \(3 rows\)/);
      assert.match(problem.detail, /\/api\/v1\/egrid\/capacity\?year=2043/);
      const cap = await app.inject('/api/v1/egrid/capacity?year=2043');
      assert.equal(cap.statusCode, 200, cap.body);
      const byFuel = cap.json<{ source: string; data: { fuel: string | null; generators: number; capacityMw: number }[] }>();
      assert.equal(byFuel.source, 'generators');
      assert.deepEqual(byFuel.data, [{ fuel: null, generators: 3, capacityMw: 157.5 }], 'GEN43 here has no FUELG1: one null-fuel group, 100 + 50.5 + 7 MW');
      const fueled = (await app.inject('/api/v1/egrid/capacity?year=2022')).json<{ data: { fuel: string | null; capacityMw: number }[] }>();
      assert.deepEqual(fueled.data.map((x) => [x.fuel, x.capacityMw]), [['SUB', 800]]);
      const none = await app.inject('/api/v1/egrid/capacity?year=2030');
      assert.equal(none.statusCode, 404);
      assert.equal(none.json<{ field: string }>().field, 'year');
    });

    it('EPA\'s 2022 MROW CO2 rate is reproduced through the API from the real plant file, imported by the importer', sharedDataTest(), async () => {
      const file = sharedPath('egrid', 'egrid2022_PLNT22_MROW_and_NE_subset.csv');
      const importId = await createImport(db, { fileSha256: 'a'.repeat(64), fileName: path.basename(file), source: 'cli', requestedYear: undefined });
      const out = await runImportJob({ db, logger: pino({ level: 'silent' }), importId, actor: systemActor('test'), path: file, fileName: path.basename(file) });
      assert.equal(out?.rowsRejected, 0);
      const published = readCodeCsv(sharedPath('egrid', 'CO2_total_output_emission_rate_by_eGRID_subregion_2022.csv')).find((r) => r.Region === 'MROW')!;
      await db.query(`UPDATE egrid_aggregates SET co2_rate_lb_per_mwh = $1 WHERE data_year = 2022 AND level = 'subregion' AND code = 'MROW'`, [egridNumber(Object.values(published)[1])]);
      const years = (await app.inject('/api/v1/egrid/years')).json();
      assert.equal(years.data.find((y: { year: number }) => y.year === 2022).plants, 1325);
      const body = (await app.inject('/api/v1/egrid/aggregates?year=2022&by=subregion')).json();
      const mrow = body.data.find((a: { key: string }) => a.key === 'MROW');
      assert.equal(mrow.plants, 1323);
      assert.ok(Math.abs(mrow.difference.co2Rate) < 0.005, `difference ${mrow.difference.co2Rate}`);
      assert.ok(Math.abs(mrow.co2Rate - 936.485) < 0.01, `MROW ${mrow.co2Rate} lb/MWh, EPA 936.485`);
    });
  });
}
