import { describe, it, before, after } from 'node:test';
import { systemActor } from '../auth/audit.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { attachMetrics, Metrics } from '../platform/metrics.ts';
import { getImport, getPlant, listAggregates, listPlants, listGenerators, listUnits } from './egrid-repository.ts';
import { createImport, runImportJob } from './import-jobs.ts';
import { importEgridFile } from './import-file.ts';
import { csvParts } from './csv-split.ts';

const logger = pino({ level: 'silent' });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'egrid-import-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function importFile(db: Db, file: string, year?: number) {
  const importId = await createImport(db, { fileSha256: 'f'.repeat(64), fileName: path.basename(file), source: 'cli', requestedYear: year });
  const out = await runImportJob({ db, logger, importId, actor: systemActor('test'), path: file, fileName: path.basename(file), year });
  assert.ok(out, 'the import ran');
  return { importId, ...out };
}

/** The file's data rows as records by eGRID code (the code row found by its key column), read independently of the importer. */
function fileRecords(file: string, keyCode: string): Record<string, string>[] {
  const rows = parse(readFileSync(file), { bom: true, relax_column_count: true }) as string[][];
  const codeRow = rows.findIndex((r) => r.some((c) => c.trim().toUpperCase() === keyCode));
  const codes = rows[codeRow]!.map((c) => c.trim().toUpperCase());
  return rows.slice(codeRow + 1).map((r) => Object.fromEntries(codes.map((c, i) => [c, r[i] ?? ''])));
}

const GEN_HEADER = 'SEQGEN30,YEAR,PSTATABB,PNAME,ORISPL,GENID,NUMBLR,GENSTAT,PRMVR,FUELG1,NAMEPCAP,CFACT,GENNTAN,GENNTOZ,GENERSRC,GENYRONL,GENYRRET';
function genFixture(name: string, rows: number, mw: number, extraLines: string[] = []): string {
  const lines = [GEN_HEADER];
  for (let i = 1; i <= rows; i++) lines.push(`${i},2030,TX,Plant ${i},${100 + i},G${i},,OP,ST,NG,${mw},0.5,"1,000",(12),EIA,2001,`);
  lines.push(...extraLines);
  const file = path.join(tmp, name);
  writeFileSync(file, lines.join('\r\n') + '\r\n');
  return file;
}

for (const target of testDatabases()) {
  describe(`eGRID import on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('keeps good rows and lists each bad one with its line, column and reason (counted), skipping junk lines', async () => {
      const file = genFixture('rows.csv', 3, 5, [
        '4,2030,TX,Bad MW,200,G1,,OP,ST,NG,five,0.5,1,1,EIA,2001,', // line 5: NAMEPCAP not a number
        '5,2030,TX,No plant,,G1,,OP,ST,NG,5,0.5,1,1,EIA,2001,', // line 6: no ORISPL
        '6,2030,TX,Plant 1 again,101,G1,,OP,CT,NG,9,0.5,1,1,EIA,2001,', // line 7: same ORISPL + GENID as line 2, another unit
        '6,2030,TX,Plant 1 again,101,G1,,OP,CT,NG,9,0.5,1,1,EIA,2001,', // line 8: line 7 repeated in every column
        '7,2030,TX,Retired,300,NA,,RE,ST,NG,1,,,,,1990,2020', // line 9: 'NA' is a generator id
        '0,,,,,,0,,,,,,,,,,', // Excel's trailing junk
      ]);
      const out = await importFile(db, file);
      assert.equal(out.status, 'partial');
      assert.equal(out.rowsLoaded, 5);
      assert.equal(out.rowsRejected, 3);
      assert.deepEqual(out.errors.map((e) => [e.line, e.column, e.code]), [[5, 'NAMEPCAP', 'bad-value'], [6, 'orispl', 'missing-key'], [8, null, 'duplicate-key']]);
      assert.match(out.errors[2]!.message, /line 7/);
      assert.equal(out.sheets[0]!.rowsSkipped, 1);
      const gens = await listGenerators(db, 2030);
      assert.deepEqual(gens.map((g) => g.generatorId).sort(), ['G1', 'G1', 'G2', 'G3', 'NA']);
      const [first, second] = gens.filter((g) => g.orispl === 101 && g.generatorId === 'G1');
      assert.deepEqual([first!.occurrence, first!.primeMover, first!.nameplateMw], [1, 'ST', 5], 'rows of one ORISPL + GENID are numbered in file order');
      assert.deepEqual([second!.occurrence, second!.primeMover, second!.nameplateMw], [2, 'CT', 9]);
      assert.equal(first!.netGenerationMwh, 1000);
      assert.equal(first!.netGenerationOzoneMwh, -12);
      const stored = await getImport(db, out.importId);
      assert.equal(stored?.status, 'partial');
      assert.equal(stored?.errors.length, 3);
    });

    it('counts imports by status, rows stored and rejected, and durations in /metrics', async () => {
      const metrics = new Metrics({ processMetrics: false });
      attachMetrics(metrics, db);
      const value = async (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(await metrics.render())?.[1] ?? 0);
      const partial = await importFile(db, genFixture('metrics-partial.csv', 4, 5, ['9,2030,TX,Bad MW,900,G1,,OP,ST,NG,five,0.5,1,1,EIA,2001,']));
      assert.deepEqual([partial.status, partial.rowsLoaded, partial.rowsRejected], ['partial', 4, 1]);
      assert.equal(await value('gridpulse_egrid_imports_total{status="partial"}'), 1);
      assert.equal(await value('gridpulse_egrid_import_rows_total{outcome="stored"}'), 4);
      assert.equal(await value('gridpulse_egrid_import_rows_total{outcome="rejected"}'), 1);
      await importFile(db, genFixture('metrics-ok.csv', 2, 5));
      assert.equal(await value('gridpulse_egrid_imports_total{status="succeeded"}'), 1);
      assert.equal(await value('gridpulse_egrid_import_rows_total{outcome="stored"}'), 6);
      // a file refused whole (no key column) is a failed import
      const noKey = path.join(tmp, 'metrics-nokey.csv');
      writeFileSync(noKey, GEN_HEADER.replace('ORISPL,', 'XORIS,') + '\r\n1,2030,TX,P,1,G1,,OP,ST,NG,5,0.5,1,1,EIA,2001,\r\n');
      await assert.rejects(importFile(db, noKey), HttpProblem);
      assert.equal(await value('gridpulse_egrid_imports_total{status="failed"}'), 1);
      for (const status of ['partial', 'succeeded', 'failed']) assert.equal(await value(`gridpulse_egrid_import_duration_seconds_count{status="${status}"}`), 1, status);
    });

    it('re-importing a year replaces it in one transaction: a concurrent reader sees the old year or the new, never a mix', async () => {
      const v1 = genFixture('v1.csv', 3000, 2);
      const v2 = genFixture('v2.csv', 2000, 7);
      await importFile(db, v1);
      const seen = new Set<string>();
      let done = false;
      const reader = (async () => {
        while (!done) {
          const [r] = await db.query<{ n: string | number; mw: number }>('SELECT count(*) AS n, sum(nameplate_mw) AS mw FROM egrid_generators WHERE data_year = 2030');
          seen.add(`${Number(r!.n)}/${r!.mw}`);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      const out = await importFile(db, v2).finally(() => { done = true; });
      await reader;
      assert.equal(out.sheets[0]!.replaced, 3000);
      for (const s of seen) assert.ok(s === '3000/6000' || s === '2000/14000', `a reader saw ${s}`);
      const [after2] = await db.query<{ n: string | number }>('SELECT count(*) AS n FROM egrid_generators WHERE data_year = 2030');
      assert.equal(Number(after2!.n), 2000);
      // and the same file again is idempotent
      const again = await importFile(db, v2);
      assert.equal(again.sheets[0]!.replaced, 2000);
      assert.equal(again.rowsLoaded, 2000);
    });

    it('a CSV read by two threads, each from a record boundary of its half, stores and reports exactly what one reader does', async () => {
      // quoted line breaks (CRLF inside a name) in both halves, a bad row and a junk line in the second half, and a
      // row repeating an early one in the second half: lines, rejections and the kept first row must not depend on the cut
      const lines = [GEN_HEADER];
      for (let i = 1; i <= 1200; i++) {
        const name = i % 97 === 0 ? `"Plant ${i},\r\nUnit ""${i}"""` : `Plant ${i}`;
        lines.push(`${i},2032,TX,${name},${100 + i},G1,,OP,ST,NG,${i % 7},0.5,"1,${String(i % 1000).padStart(3, '0')}",(12),EIA,2001,`);
        if (i === 900) lines.push('901,2032,TX,Bad,999,G1,,OP,ST,NG,five,0.5,1,1,EIA,2001,', '0,,,,,,0,,,,,,,,,,');
        if (i === 1100) lines.push('1101,2032,TX,Plant 5,105,G1,,OP,ST,NG,5,0.5,"1,005",(12),EIA,2001,');
      }
      const file = path.join(tmp, 'two-readers.csv');
      writeFileSync(file, lines.join('\r\n') + '\r\n');
      assert.equal((await csvParts(file, 2)).length, 2);
      const run = async (csvReaders: number) => {
        const importId = await createImport(db, { fileSha256: 'e'.repeat(64), fileName: 'two-readers.csv', source: 'cli' });
        const out = await importEgridFile({ db, logger, importId, actor: systemActor('test'), path: file, csvReaders });
        const gens = await db.query<Record<string, unknown>>(`SELECT orispl, generator_id, occurrence, plant_name, nameplate_mw, net_generation_mwh,
          net_generation_ozone_mwh, source_line, extra::text AS extra FROM egrid_generators WHERE data_year = 2032 ORDER BY orispl, occurrence`);
        return { out, gens };
      };
      const one = await run(1);
      const two = await run(2);
      assert.equal(one.out.rowsLoaded, 1200);
      assert.deepEqual(one.out.errors.map((e) => [e.column, e.code]), [['NAMEPCAP', 'bad-value'], [null, 'duplicate-key']]);
      assert.ok(one.out.errors[0]!.line > 900 && one.out.errors[1]!.line > one.out.errors[0]!.line);
      assert.match(one.out.errors[1]!.message, /the same row as line 6 /);
      assert.equal(one.out.sheets[0]!.rowsSkipped, 1);
      assert.deepEqual(two.out, { ...one.out, sheets: one.out.sheets.map((x) => ({ ...x, replaced: 1200 })) });
      assert.deepEqual(two.gens, one.gens);
      assert.equal(one.gens.find((g) => g.orispl === 100 + 97)?.plant_name, 'Plant 97,\r\nUnit "97"');
      assert.equal(one.gens.find((g) => g.orispl === 100 + 1000)?.net_generation_mwh, 1000);
    });

    it('a sheet without its key column is refused whole and writes nothing', async () => {
      const file = path.join(tmp, 'nokey.csv');
      writeFileSync(file, 'SEQGEN30,YEAR,PSTATABB,PNAME,GENID,NAMEPCAP\n1,2031,TX,A,G1,5\n');
      await assert.rejects(importFile(db, file), (err: unknown) => err instanceof HttpProblem && err.status === 422 && /ORISPL/.test(err.message));
      const n = await db.query<{ n: string | number }>('SELECT count(*) AS n FROM egrid_generators WHERE data_year = 2031');
      assert.equal(Number(n[0]!.n), 0);
      const bad = path.join(tmp, 'nothing.csv');
      writeFileSync(bad, 'name,value\na,1\n');
      await assert.rejects(importFile(db, bad), (err: unknown) => err instanceof HttpProblem && err.status === 422 && /no eGRID header/.test(err.message));
    });

    it('imports every real eGRID file in ../shared/data/egrid, with counts and values as in the files', sharedDataTest(), async () => {
      const egrid = (f: string) => sharedPath('egrid', f);
      // generator sheets of four editions and three exporters
      for (const [f, year] of [['egrid2016_GEN16.csv', 2016], ['egrid2020_GEN20.csv', 2020], ['egrid2021_GEN21.csv', 2021], ['egrid2023_GEN23.csv', 2023]] as const) {
        const records = fileRecords(egrid(f), 'GENID').filter((r) => r.ORISPL !== '');
        const out = await importFile(db, egrid(f));
        assert.equal(out.status, 'succeeded', `${f}: ${JSON.stringify(out.errors.slice(0, 3))}`);
        assert.equal(out.rowsLoaded, records.length, f);
        const [n] = await db.query<{ n: string | number }>('SELECT count(*) AS n FROM egrid_generators WHERE data_year = $1', [year]);
        assert.equal(Number(n!.n), records.length, f);
      }
      // eGRID2016 lists steam and combustion-turbine generators 1..3 of plant 3612 under the same GENID
      const g3612 = (await listGenerators(db, 2016, 3612)).filter((g) => g.generatorId === '1');
      assert.deepEqual(g3612.map((g) => [g.occurrence, g.primeMover, g.primaryFuel]), [[1, 'ST', 'NG'], [2, 'CT', 'NG']]);
      const silverQueen = (await listGenerators(db, 2020, 64835))[0];
      assert.equal(silverQueen?.generatorId, 'NA', 'NA is a generator id in eGRID2020');
      assert.equal(silverQueen?.nameplateMw, 300);
      const bess = (await listGenerators(db, 2021, 57583)).find((g) => g.generatorId === 'BESS');
      assert.deepEqual([bess?.netGenerationMwh, bess?.netGenerationOzoneMwh, bess?.capacityFactor], [-3433, -1698, -0.01]);
      const annex = (await listGenerators(db, 2023, 62)).find((g) => g.generatorId === '5');
      assert.deepEqual([annex?.state, annex?.netGenerationMwh, annex?.netGenerationOzoneMwh, annex?.yearOnline], ['AK', 3772.35, -21.6, 1915]);

      // PLNT22: every column, fractions, '--', negative generation
      const plants = fileRecords(egrid('egrid2022_PLNT22_MROW_and_NE_subset.csv'), 'ORISPL');
      const out22 = await importFile(db, egrid('egrid2022_PLNT22_MROW_and_NE_subset.csv'));
      assert.equal(out22.status, 'succeeded');
      assert.equal(out22.rowsLoaded, plants.length);
      const p = await getPlant(db, 2022, 64352);
      assert.deepEqual([p?.state, p?.baCode, p?.subregion, p?.nameplateMw, p?.capacityFactor, p?.netGenerationMwh, p?.countyFips, p?.stateFips],
        ['CO', 'WACM', 'MROW', 2, 0.19178, 3360, '075', '08']);
      assert.ok(p?.notCalculated.includes('UNHGSRC'));
      const [neg] = await db.query<{ n: string | number }>('SELECT count(*) AS n FROM egrid_plants WHERE data_year = 2022 AND net_generation_mwh < 0');
      assert.equal(Number(neg!.n), plants.filter((r) => Number(r.PLNGENAN) < 0).length);
      const [mix] = await db.query<{ hi: number; cf: number }>(
        'SELECT max(greatest(mix_coal, mix_wind, mix_solar, mix_gas, mix_hydro, mix_nuclear)) AS hi, max(capacity_factor) AS cf FROM egrid_plants WHERE data_year = 2022');
      assert.equal(mix!.hi, 1, 'resource mix is a fraction');
      assert.equal(mix!.cf, Math.max(...plants.filter((r) => r.CAPFAC !== '').map((r) => Number(r.CAPFAC))), 'capacity factor is a fraction as EPA wrote it (1.02568 at most)');
      const sci = plants.find((r) => r.CAPFAC === '4e-05')!;
      assert.equal((await getPlant(db, 2022, Number(sci.ORISPL)))?.capacityFactor, 4e-5);

      // EPA's unit file: XLSX, one lower-case header row, year from the file name
      const outUnits = await importFile(db, egrid('egrid2021_UNT21_access_unit_file.xlsx'));
      assert.equal(outUnits.rowsRead, 24598);
      assert.equal(outUnits.status, 'succeeded', JSON.stringify(outUnits.errors.slice(0, 3)));
      assert.equal(outUnits.rowsLoaded, 24598);
      // 17 UNITIDs repeat within a plant: hydro and turbine units 1..4 of plant 2707, recovery boilers listed twice
      const u2707 = (await listUnits(db, 2021, 2707)).filter((u) => u.unitId === '1');
      assert.deepEqual(u2707.map((u) => [u.occurrence, u.primeMover, u.primaryFuel]), [[1, 'GT', 'DFO'], [2, 'HY', 'WAT']]);
      const pb1 = (await listUnits(db, 2021, 50806)).filter((u) => u.unitId === 'PB1');
      assert.deepEqual(pb1.map((u) => u.primaryFuel), ['NG', 'WDS']);
      const barry = (await listUnits(db, 2021, 3)).find((u) => u.unitId === '2');
      assert.deepEqual([barry?.heatInputMmbtu, barry?.co2ShortTons, barry?.yearOnline, barry?.camdFlag, barry?.noxControls?.startsWith('Low NOx')],
        [14475.35, 860.1, 1954, true, true]);

      // explorer exports: two years stacked in one file, `Year`, '--'
      await importFile(db, egrid('egrid2018_2019_state_explorer.csv'));
      await importFile(db, egrid('egrid2018_2019_subregion_explorer.csv'));
      await importFile(db, egrid('egrid2018_2019_US_explorer.csv'));
      assert.equal((await listAggregates(db, 2018, 'state')).length, 51);
      assert.equal((await listAggregates(db, 2019, 'state')).length, 52);
      assert.equal((await listAggregates(db, 2019, 'subregion')).length, 27);
      const ca = (await listAggregates(db, 2018, 'state')).find((s) => s.code === 'CA');
      assert.equal(ca?.nameplateMw, 107911.7);
      assert.ok(ca?.notCalculated.includes('STHGAN'));
      assert.equal(ca?.measures.FIPSST, 6);
      assert.equal((await listAggregates(db, 2018, 'us'))[0]?.nameplateMw, 1561642.9);

      // EPA summary tables (words for headers, percentages) and the static tables (no year: --year)
      await importFile(db, egrid('CO2_total_output_emission_rate_by_eGRID_subregion_2022.csv'));
      await importFile(db, egrid('resource_mix_renewable_vs_non-renewable_by_eGRID_subregion_2023.csv'));
      await importFile(db, egrid('resource_mix_combustible_vs_non-combustible_by_eGRID_subregion_2023.csv'));
      assert.equal((await listAggregates(db, 2022, 'us'))[0]?.co2RateLbPerMwh, 823.149);
      assert.equal((await listAggregates(db, 2022, 'subregion')).find((s) => s.code === 'AKGD')?.co2RateLbPerMwh, 1052.114);
      const us23 = (await listAggregates(db, 2023, 'us'))[0];
      assert.deepEqual([us23?.mixHydro, us23?.mixCombustion, us23?.mixNoncombustion], [0.059, 0.61, 0.389], 'both summary tables merge into one row');
      const names = await importFile(db, egrid('egrid_nerc_subregions.csv'), 2022);
      assert.equal(names.rowsLoaded, 27);
      assert.equal((await listAggregates(db, 2022, 'subregion')).find((s) => s.code === 'AKGD')?.name, 'ASCC Alaska Grid');
      const xwalk = await importFile(db, egrid('xwalk_oris_subregion.csv'), 2022);
      assert.equal(xwalk.rowsRejected, 4, 'the crosswalk repeats four plants');
      assert.equal((await getPlant(db, 2022, 64352))?.nameplateMw, 2, 'a crosswalk amends plants and erases nothing');

      // the PLNT16 subset has no plant code: its rows are keyed by SEQPLT16 and stored without ORISPL
      const subset = fileRecords(egrid('egrid2016_PLNT16_subset.csv'), 'SEQPLT16');
      const out16 = await importFile(db, egrid('egrid2016_PLNT16_subset.csv'));
      assert.equal(out16.status, 'succeeded', JSON.stringify(out16.errors.slice(0, 3)));
      assert.equal(out16.rowsLoaded, subset.length);
      const p16 = await listPlants(db, 2016);
      assert.equal(p16.length, subset.length);
      const seq3 = p16.find((x) => x.seq === 3);
      assert.deepEqual([seq3?.orispl, seq3?.state, seq3?.primaryFuel, seq3?.netGenerationMwh, seq3?.co2eShortTons], [null, 'AK', 'DFO', 1213, 1050]);
      const akTons = subset.filter((r) => r.PSTATABB === 'AK').reduce((t, r) => t + Number(r.PLCO2EQA || 0), 0);
      const [ak] = await db.query<{ t: number }>(`SELECT sum(co2e_short_tons) AS t FROM egrid_plants WHERE data_year = 2016 AND state = 'AK'`);
      assert.ok(Math.abs(ak!.t - akTons) < 1e-6 * akTons, 'state aggregates add the ORISPL-less rows');
      // re-import replaces them; a sheet without ORISPL never doubles a year loaded with ORISPL
      assert.equal((await importFile(db, egrid('egrid2016_PLNT16_subset.csv'))).sheets[0]!.replaced, subset.length);
      const noOris = path.join(tmp, 'egrid2022_noorispl.csv');
      writeFileSync(noOris, 'SEQPLT22,PSTATABB,PLPRMFL,PLNGENAN,PLCO2EQA\n1,CO,NG,10,5\n');
      await assert.rejects(importFile(db, noOris), (err: unknown) => err instanceof HttpProblem && err.status === 422 && /twice/.test(err.message));
    });
  });
}
