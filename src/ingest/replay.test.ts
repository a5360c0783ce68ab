import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import { parseGridemissionsCsv } from './gridemissions.ts';
import { replayDir } from './replay.ts';
import { migrate } from '../platform/migrate.ts';

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
});

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
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('loads EIA JSON responses and wide CSV files from one folder; a bad file or value is counted, the rest kept', async () => {
      const db = await target.open();
      await migrate(db);
      try {
        const r = await replayDir({ db, logger: quiet }, dir);
        assert.equal(r.errors.length, 1);
        assert.match(r.errors[0]!, /^broken\.json: /);
        assert.equal(r.rejected, 1, 'the PACW value "n/a"');
        assert.equal(r.inserted, 2 * 9 + 1);
        const rows = await db.query<{ ba: string; type: string; subtype: string; value: number | null }>(
          `SELECT s.ba_code AS ba, s.type, s.subtype, o.value FROM series s JOIN observations o ON o.series_id = s.id
            WHERE o.ts = '2021-07-10T00:00:00Z' ORDER BY 1, 2, 3`);
        assert.deepEqual(rows.map((x) => `${x.ba} ${x.type} ${x.subtype} ${x.value === null ? 'null' : Number(x.value)}`), [
          'BANC ba_interchange CISO 100', 'BANC demand  1500', 'BANC generation_by_fuel WAT 1600',
          'CISO ba_interchange BANC -100', 'CISO demand  25000', 'CISO generation_by_fuel NG 9000', 'CISO generation_by_fuel SUN null',
          'CISO interchange  -5000', 'CISO net_generation  20000',
        ]);
        const [pages] = await db.query<{ routes: string }>(`SELECT string_agg(route, ',' ORDER BY route) AS routes FROM raw_pages WHERE run_id = $1`, [r.runId]);
        assert.equal(pages!.routes, 'region,wide-csv', 'both files archived as received');
      } finally {
        await db.close();
      }
    });

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
