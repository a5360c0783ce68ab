import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import { parseGridemissionsCsv } from './gridemissions.ts';
import { replayDir } from './replay.ts';
import { migrate } from '../platform/migrate.ts';
import { listFindings } from './check-runner.ts';
import type { Db } from '../platform/db.ts';

const quiet = pino({ level: 'silent' });

/** A wide file as gridemissions writes it: hour-ending UTC periods, one column per series, empty = missing. */
const WIDE = [
  'period,E_CISO-BANC_ID,E_BANC-CISO_ID,E_CISO_D,E_CISO_NG,E_CISO_TI,E_CISO_GAS,E_CISO_SUN,E_BANC_D,E_BANC_WAT,E_CISO_Foo,junk',
  '2021-07-10T01,-100.0,100.0,25000.0,20000.0,-5000.0,9000.0,,1500.0,1600.0,1,2',
  '2021-07-10T02,-90,90,24000,19000,-5000,8500,0,1400,1490,1,2',
].join('\n');

describe('gridemissions wide CSV', () => {
  it('maps every column to its EIA series and hour start; empty cells are missing values', () => {
    const r = parseGridemissionsCsv(WIDE);
    assert.equal(r.rows, 2);
    assert.equal(r.rejected, 0);
    assert.deepEqual(r.ignoredColumns, ['E_CISO_Foo', 'junk']);
    const at = (route: string, ba: string, code: string, ts: string) => r.points.find((p) => p.route === route && p.ba === ba && p.code === code && p.ts.toISOString() === ts)?.value;
    // period 2021-07-10T01 is the hour ending 01:00 UTC: it starts at 00:00
    assert.equal(at('interchange', 'CISO', 'BANC', '2021-07-10T00:00:00.000Z'), -100);
    assert.equal(at('interchange', 'BANC', 'CISO', '2021-07-10T00:00:00.000Z'), 100);
    assert.equal(at('region', 'CISO', 'D', '2021-07-10T00:00:00.000Z'), 25000);
    assert.equal(at('region', 'CISO', 'NG', '2021-07-10T01:00:00.000Z'), 19000);
    assert.equal(at('region', 'CISO', 'TI', '2021-07-10T00:00:00.000Z'), -5000);
    // GAS is EIA's NG fuel code; NG in this format is net generation
    assert.equal(at('fuel', 'CISO', 'NG', '2021-07-10T00:00:00.000Z'), 9000);
    assert.equal(at('fuel', 'CISO', 'SUN', '2021-07-10T00:00:00.000Z'), null);
    assert.equal(at('fuel', 'CISO', 'SUN', '2021-07-10T01:00:00.000Z'), 0);
    assert.equal(at('fuel', 'BANC', 'WAT', '2021-07-10T01:00:00.000Z'), 1490);
    assert.equal(r.points.length, 2 * 9);
  });

  it('counts bad cells and bad rows without losing the good ones', () => {
    const r = parseGridemissionsCsv(`${WIDE}\n2021-07-10 03:00,1,1,1,1,1,1,1,1,1\n2021-07-10T04,abc,1,1,1,1,1,1,1,1`);
    assert.equal(r.rejected, 9 + 1);
    assert.equal(r.points.length, 2 * 9 + 8);
    assert.throws(() => parseGridemissionsCsv('time,E_CISO_D\n2021-07-10T01,1'), /first column must be 'period'/);
  });

  it('rejects local-hourly and malformed periods with their reason, and counts them', () => {
    const r = parseGridemissionsCsv(`${WIDE}\n2021-07-09T21-04,1,1,1,1,1,1,1,1,1\n2021-07-10T05,x,1,1,1,1,1,1,1,1`);
    assert.deepEqual(r.reasons, { 'local-hourly periods are not supported': 9, 'value is not a decimal number': 1 });
    assert.equal(r.rejected, 10);
  });
});

/**
 * The EBA layout (EIA's former bulk series ids): an unnamed hour-ending UTC timestamp column.
 * NG.<fuel> uses EIA's fuel codes (NG.NG = natural gas), NG alone is net generation, `.HL` columns
 * are local-hourly copies.
 */
const EBA = [
  ',EBA.CISO-ALL.D.H,EBA.CISO-ALL.NG.H,EBA.CISO-ALL.NG.NG.H,EBA.CISO-ALL.TI.H,EBA.CISO-BANC.ID.H,EBA.CISO-ALL.DF.H,EBA.CISO-ALL.D.HL,EBA.CISO-ALL.XX.H,Unnamed',
  '2015-07-01 08:00:00+00:00,31486.0,25000.0,9000.0,-6486.0,145.0,30000,31486.0,1,2',
  '20150701T09Z,28989.0,,,-5000,-94,,28989,1,2',
  '2015-07-01 10:00:00,1,1,1,1,1,1,1,1,1',
  '2015-07-01 06:00:00-04:00,1,1,1,1,1,1,1,1,1',
  '2015-07-01 11:30:00+00:00,1,1,1,1,1,1,1,1,1',
].join('\n');

describe('gridemissions EBA layout', () => {
  it('maps EBA ids to EIA series, hour-ending UTC stamps to hour starts, and says why each value was rejected', () => {
    const r = parseGridemissionsCsv(EBA);
    assert.equal(r.layout, 'EBA');
    assert.deepEqual(r.ignoredColumns, ['EBA.CISO-ALL.XX.H', 'Unnamed']);
    const at = (route: string, code: string, ts: string) => r.points.find((p) => p.route === route && p.code === code && p.ts.toISOString() === ts)?.value;
    // 2015-07-01 08:00+00:00 ends the hour that starts at 07:00Z
    assert.equal(at('region', 'D', '2015-07-01T07:00:00.000Z'), 31486);
    assert.equal(at('region', 'NG', '2015-07-01T07:00:00.000Z'), 25000, 'NG alone is net generation');
    assert.equal(at('fuel', 'NG', '2015-07-01T07:00:00.000Z'), 9000, 'NG.NG is natural gas');
    assert.equal(at('region', 'TI', '2015-07-01T07:00:00.000Z'), -6486);
    assert.equal(at('region', 'DF', '2015-07-01T07:00:00.000Z'), 30000);
    assert.equal(at('interchange', 'BANC', '2015-07-01T07:00:00.000Z'), 145);
    // EIA's bulk stamp 20150701T09Z, and empty cells as missing values
    assert.equal(at('region', 'D', '2015-07-01T08:00:00.000Z'), 28989);
    assert.equal(at('fuel', 'NG', '2015-07-01T08:00:00.000Z'), null);
    assert.equal(at('interchange', 'BANC', '2015-07-01T08:00:00.000Z'), -94);
    assert.equal(r.points.length, 2 * 6);
    assert.deepEqual(r.reasons, {
      'local-hourly periods are not supported': 2 + 7,
      'timestamp without a UTC offset (expected e.g. 2015-07-01 05:00:00+00:00)': 7,
      'timestamp is not on the hour': 7,
    });
    assert.equal(r.rejected, 2 + 7 * 3);
    assert.throws(() => parseGridemissionsCsv('x,y\n1,2'), /unnamed timestamp column before EBA/);
  });

  it('reads quoted cells as CSV does (the reader is csv-parse, not a comma split)', () => {
    const r = parseGridemissionsCsv(',"EBA.CISO-ALL.D.H","EBA.CISO-ALL.NG.H"\n"2015-07-01 08:00:00+00:00","31486.0",""\n');
    assert.deepEqual(r.points.map((p) => p.value), [31486, null]);
  });
});

/** A pino logger whose lines are kept as objects. */
function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { logger: pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s)); } }), lines };
}

for (const target of testDatabases()) {
  describe(`replay on ${target.name}`, () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'gp-replay-'));
      writeFileSync(path.join(dir, 'grid.csv'), WIDE);
      writeFileSync(path.join(dir, 'region-data_PACW.json'), JSON.stringify({
        response: { total: 2, data: [
          { period: '2024-01-01T01', respondent: 'PACW', 'respondent-name': 'PacifiCorp West', type: 'D', 'type-name': 'Demand', value: '2515', 'value-units': 'megawatthours' },
          { period: '2024-01-01T02', respondent: 'PACW', 'respondent-name': 'PacifiCorp West', type: 'D', 'type-name': 'Demand', value: 'n/a', 'value-units': 'megawatthours' },
        ] },
        request: { command: '/v2/electricity/rto/region-data/data/', params: {} },
      }));
      writeFileSync(path.join(dir, 'broken.json'), '{"response":');
      // recorded data kept in a sub-folder is read too
      mkdirSync(path.join(dir, '2024', 'PACW'), { recursive: true });
      writeFileSync(path.join(dir, '2024', 'PACW', 'fuel.json'), JSON.stringify({
        response: { total: 1, data: [{ period: '2024-01-01T01', respondent: 'PACW', fueltype: 'WND', value: '120', 'value-units': 'megawatthours' }] },
        request: { command: '/v2/electricity/rto/fuel-type-data/data/', params: {} },
      }));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('says so, as an error of the run, when a folder holds no data file', async () => {
      const empty = mkdtempSync(path.join(tmpdir(), 'gp-replay-empty-'));
      const db = await target.open();
      await migrate(db);
      try {
        const r = await replayDir({ db, logger: quiet }, empty);
        assert.equal(r.fetched, 0);
        assert.match(r.errors.join(), /no EIA v2 JSON \(\*\.json\) or gridemissions CSV \(\*\.csv\) files in it or its sub-folders/);
      } finally {
        await db.close();
        rmSync(empty, { recursive: true, force: true });
      }
    });

    it('loads EIA JSON responses and wide CSV files from one folder; a bad file or value is counted, the rest kept', async () => {
      const db = await target.open();
      await migrate(db);
      try {
        const r = await replayDir({ db, logger: quiet }, dir);
        assert.equal(r.errors.length, 1);
        assert.match(r.errors[0]!, /^broken\.json: /);
        assert.equal(r.rejected, 1, 'the PACW value "n/a"');
        assert.equal(r.inserted, 2 * 9 + 1 + 1, 'the wide file, PACW demand, and PACW wind from the sub-folder');
        const rows = await db.query<{ ba: string; type: string; subtype: string; value: number | null }>(
          `SELECT s.ba_code AS ba, s.type, s.subtype, o.value FROM series s JOIN observations o ON o.series_id = s.id
            WHERE o.ts = '2021-07-10T00:00:00Z' ORDER BY 1, 2, 3`);
        assert.deepEqual(rows.map((x) => `${x.ba} ${x.type} ${x.subtype} ${x.value === null ? 'null' : Number(x.value)}`), [
          'BANC ba_interchange CISO 100', 'BANC demand  1500', 'BANC generation_by_fuel WAT 1600',
          'CISO ba_interchange BANC -100', 'CISO demand  25000', 'CISO generation_by_fuel NG 9000', 'CISO generation_by_fuel SUN null',
          'CISO interchange  -5000', 'CISO net_generation  20000',
        ]);
        const [pages] = await db.query<{ routes: string }>(`SELECT string_agg(route, ',' ORDER BY route) AS routes FROM raw_pages WHERE run_id = $1`, [r.runId]);
        assert.equal(pages!.routes, 'fuel,region,wide-csv', 'every file archived as received');
      } finally {
        await db.close();
      }
    });

    const withDb = async (fn: (db: Db) => Promise<void>) => {
      const db = await target.open();
      await migrate(db);
      try { await fn(db); } finally { await db.close(); }
    };

    it('a gridemissions file repeating a period with other values: those hours are refused, counted, logged with both values and the run id, and a finding', () => withDb(async (db) => {
      const file = path.join(dir, 'dup', 'E_dup.csv');
      mkdirSync(path.dirname(file), { recursive: true });
      // the 2021-07-10T02 row again: CISO demand differs (24000 vs 24100), every other column repeats exactly
      writeFileSync(file, `${WIDE}\n2021-07-10T02,-90,90,24100,19000,-5000,8500,0,1400,1490,1,2\n`);
      const { logger, lines } = capture();
      const r = await replayDir({ db, logger }, file);
      assert.deepEqual(r.errors, []);
      assert.deepEqual([r.fetched, r.inserted, r.rejected, r.conflicting, r.duplicates], [27, 17, 2, 2, 8]);
      assert.deepEqual(r.reasons, { 'conflicting values for one series and hour in one batch': 2 });
      const [d] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand' AND o.ts = '2021-07-10T01:00Z'`);
      assert.equal(d!.n, 0);
      const warn = lines.find((l) => String(l.msg).startsWith('conflicting duplicate refused'))!;
      assert.deepEqual([warn.runId, warn.batch, warn.series, warn.ts, warn.values], [r.runId, 'E_dup.csv', 'CISO.demand', '2021-07-10T01:00:00.000Z', [24000, 24100]]);
      const perFile = lines.find((l) => l.msg === 'replayed file')!;
      assert.deepEqual([perFile.rejected, perFile.conflicting, perFile.duplicates, perFile.reasons], [r.rejected, 2, 8, r.reasons]);
      const [run] = await db.query<{ rows_rejected: number; rows_conflicting: number; rows_duplicate: number }>('SELECT rows_rejected, rows_conflicting, rows_duplicate FROM ingest_runs WHERE id = $1', [r.runId]);
      assert.deepEqual({ ...run }, { rows_rejected: 2, rows_conflicting: 2, rows_duplicate: 8 });
      const findings = await listFindings(db, { run: r.runId, check: 'conflicting_duplicate' }, 10, 0);
      assert.deepEqual(findings.map((f) => [f.ba, f.series, f.from, f.severity, (f.detail as { hours: Array<{ values: unknown }> }).hours[0]!.values]),
        [['CISO', 'CISO.demand', '2021-07-10T01:00:00.000Z', 'error', [24000, 24100]]]);
    }));

    it('an EIA JSON response repeating a row with another value: refused and counted; local-hourly rows rejected with their reason', () => withDb(async (db) => {
      const file = path.join(dir, 'json', 'region-data_CISO.json');
      mkdirSync(path.dirname(file), { recursive: true });
      const row = (period: string, value: string) => ({ period, respondent: 'CISO', 'respondent-name': 'CAISO', type: 'D', 'type-name': 'Demand', value, 'value-units': 'megawatthours' });
      writeFileSync(file, JSON.stringify({ response: { total: 5, data: [row('2024-01-01T01', '20000'), row('2024-01-01T01', '20500'), row('2024-01-01T02', '21000'), row('2024-01-01T02', '21000'), row('2023-12-31T17-08', '20000')] },
        request: { command: '/v2/electricity/rto/region-data/data/', params: {} } }));
      const { logger, lines } = capture();
      const r = await replayDir({ db, logger }, file);
      assert.deepEqual([r.fetched, r.inserted, r.rejected, r.conflicting, r.duplicates], [5, 1, 3, 2, 1]);
      assert.deepEqual(r.reasons, { 'local-hourly periods are not supported': 1, 'conflicting values for one series and hour in one batch': 2 });
      assert.deepEqual(lines.find((l) => l.msg === 'replayed file')!.reasons, r.reasons);
    }));

    it('a recorded EIA response holding fewer rows than its total is an incomplete read: rows kept, the run not complete', () => withDb(async (db) => {
      const file = path.join(dir, 'short', 'region-data_PACW.json');
      mkdirSync(path.dirname(file), { recursive: true });
      const row = (period: string) => ({ period, respondent: 'PACW', type: 'D', value: '2515' });
      writeFileSync(file, JSON.stringify({ response: { total: '3', data: [row('2024-01-01T01'), row('2024-01-01T02')] }, request: { command: '/v2/electricity/rto/region-data/data/' } }));
      const r = await replayDir({ db, logger: quiet }, file);
      assert.deepEqual(r.errors, ['region-data_PACW.json: incomplete read: 2 rows received of total 3: one page of a paged response, the rest is not in the file']);
      assert.equal(r.inserted, 2);
      const [run] = await db.query<{ status: string }>('SELECT status FROM ingest_runs WHERE id = $1', [r.runId]);
      assert.equal(run!.status, 'partial');
    }));

    it('reads the real EBA_raw.csv: values where the file has them, hour starts one hour before its stamps, per-file log = summary', sharedDataTest(), () => withDb(async (db) => {
      const { logger, lines } = capture();
      const r = await replayDir({ db, logger }, sharedPath('eia930', 'gridemissions', 'EBA_raw.csv'));
      assert.deepEqual(r.errors, []);
      // 803 series columns × 9 hours of 1 July 2015, every one stored: the two exchanges with Mexico's CFE
      // name a BA the registry has (it reported to EIA-930 until its retirement on 2018-07-01)
      assert.deepEqual([r.fetched, r.inserted, r.rejected, r.duplicates], [803 * 9, 803 * 9, 0, 0]);
      assert.deepEqual(r.reasons, {});
      const perFile = lines.filter((l) => l.msg === 'replayed file');
      assert.equal(perFile.length, 1);
      assert.deepEqual([perFile[0]!.rejected, perFile[0]!.reasons, perFile[0]!.inserted], [r.rejected, r.reasons, r.inserted]);
      const value = async (key: string, ts: string) => (await db.query<{ value: number | null }>(
        'SELECT o.value FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = $1 AND o.ts = $2', [key, ts]))[0]?.value;
      // read off the file by hand: the row stamped 2015-07-01 05:00:00+00:00 holds PJM D 84024.0, and so on
      assert.equal(await value('PJM.demand', '2015-07-01T04:00Z'), 84024);
      assert.equal(await value('PJM.demand', '2015-07-01T12:00Z'), 89560);
      assert.equal(await value('CISO.demand', '2015-07-01T07:00Z'), 31486);
      assert.equal(await value('CISO.demand', '2015-07-01T06:00Z'), null, 'an empty cell is a missing value');
      assert.equal(await value('CISO.interchange.BANC', '2015-07-01T07:00Z'), 145);
      assert.equal(await value('BANC.interchange.CISO', '2015-07-01T07:00Z'), -145);
      assert.equal(await value('AEC.net_generation', '2015-07-01T05:00Z'), 670);
    }));

    it('replays the real gridemissions file: ten days of every BA, nothing rejected', sharedDataTest(), async () => {
      const db = await target.open();
      await migrate(db);
      try {
        const r = await replayDir({ db, logger: quiet }, sharedPath('eia930', 'gridemissions', 'E_raw_2021-07-10_2021-07-20.csv'));
        assert.deepEqual(r.errors, []);
        assert.equal(r.rejected, 0);
        assert.ok(r.inserted > 180_000, `${r.inserted} values`);
        const [bas] = await db.query<{ n: number }>(`SELECT count(DISTINCT ba_code)::int AS n FROM series WHERE type = 'generation_by_fuel'`);
        assert.ok(bas!.n >= 60, `${bas!.n} BAs with fuel data`);
      } finally {
        await db.close();
      }
    });
  });
}
