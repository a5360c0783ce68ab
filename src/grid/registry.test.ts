import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { testDatabases } from '../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import type { Db } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { listBas, type BalancingAuthority } from './ba-repository.ts';
import { activeHours } from './active-dates.ts';

/**
 * The BA registry (migrations/0016_ba_registry.sql) checked against the real EIA-930 files in
 * ../shared/data. How each disagreement between sources was settled is in docs/ba-registry.md; the
 * exceptions below are exactly those, each with its reason.
 */

/** One CSV line with double-quoted fields ("a, b" and "" escapes): the reference files quote names with commas. */
function csvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted && c === '"' && line[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) { out.push(field); field = ''; } else field += c;
  }
  out.push(field);
  return out;
}

function csvRows(file: string, skip = 0): Record<string, string>[] {
  const lines = readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/).slice(skip).filter((l) => l.trim() !== '');
  const header = csvLine(lines[0]!).map((h) => h.trim());
  return lines.slice(1).map((l) => Object.fromEntries(csvLine(l).map((v, i) => [header[i]!, v.trim()])));
}

/** UTC offset of a zone at an instant, in minutes (local = UTC + offset). */
function offsetMinutes(timeZone: string, t: Date): number {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' })
    .formatToParts(t).map((x) => [x.type, Number(x.value)]));
  return (Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!) - t.getTime()) / 60_000;
}

/** Two zone names keep the same clocks (winter and summer): 'US/Central' is 'America/Chicago'. */
function sameClock(a: string, b: string): boolean {
  return ['2024-01-15T12:00Z', '2024-07-15T12:00Z'].every((t) => offsetMinutes(a, new Date(t)) === offsetMinutes(b, new Date(t)));
}

/** `M/D/YYYY` → `YYYY-MM-DD`. */
function usDate(s: string): string {
  const [m, d, y] = s.split('/').map(Number) as [number, number, number];
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** EIA's zone names in its BA list, as the IANA zones they keep. */
const EIA_ZONES: Record<string, string> = {
  Eastern: 'America/New_York', Central: 'America/Chicago', Mountain: 'America/Denver', Pacific: 'America/Los_Angeles', Arizona: 'America/Phoenix',
};

/** Names that differ from EIA's 2019 list: SCEG was renamed since (its current name is in the v2 API files); CEN is spelt without the accent, as EIA's API spells it. */
const RENAMED: Record<string, string> = { SCEG: 'Dominion Energy South Carolina, Inc.', CEN: 'Centro Nacional de Control de Energia' };

/**
 * Open Grid Emissions' reporting zone where the registry follows EIA or the geography instead:
 * MISO and LGEE (OGE: fixed UTC−5 and UTC−6; EIA lists both as Central), SPC (OGE: Canada/Central,
 * which keeps daylight saving; Saskatchewan does not), CEN and CFE (OGE: Mexico City; EIA-930's
 * Mexican BA is Baja California's, tied to the western interconnection).
 */
const OGE_ZONE_EXCEPTIONS = new Set(['MISO', 'LGEE', 'SPC', 'CEN', 'CFE']);

/**
 * Retirement dates where EIA's reference table (quoted in issue 10) differs from Open Grid Emissions,
 * whose dates come partly from FERC filings: the registry keeps EIA's. AEC keeps the date the registry
 * had (PowerSouth joined Southern's BA on 2021-09-01; OGE: 2021-09-30); GRIF is still in EIA's active
 * list (OGE: retired 2023-11-01); WACM and WAUW retired after OGE's table was made.
 */
const EIA_RETIREMENTS: Record<string, string | null> = {
  WACM: '2026-03-31', WAUW: '2026-03-31', EEI: '2020-02-29', OVEC: '2018-12-01', NSB: '2020-01-08', GRMA: '2018-05-03',
  GLHB: null, AEC: '2021-09-01', GRIF: null,
};

/** Codes in the v2 JSON mocks that the README says were hand-edited and are no BA. */
const HAND_EDITED_CODES = new Set(['EIA']);
/** respondent-name values that the README says were hand-edited into the mocks. */
const handEditedName = (code: string, name: string) => name === 'test' || name === 'ACME corp' || (name === 'Avangrid Renewables, LLC' && code !== 'AVRN');

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsonFiles(path.join(dir, e.name)) : e.name.endsWith('.json') ? [path.join(dir, e.name)] : []));
}

/** BA codes of the gridemissions files: own columns (E_<BA>_<X>, EBA.<BA>-ALL.<X>.H) and both sides of interchange. */
function gridemissionsCodes(): { own: Map<string, Set<string>>; all: Set<string> } {
  const own = new Map<string, Set<string>>();
  const all = new Set<string>();
  const addOwn = (ba: string, what: string) => { all.add(ba); if (!own.has(ba)) own.set(ba, new Set()); own.get(ba)!.add(what); };
  for (const column of readFileSync(sharedPath('eia930', 'gridemissions', 'E_raw_2021-07-10_2021-07-20.csv'), 'utf8').split('\n', 1)[0]!.split(',')) {
    const pair = /^E_([A-Z0-9]+)-([A-Z0-9]+)_ID$/.exec(column.trim());
    const single = /^E_([A-Z0-9]+)_([A-Z0-9]+)$/.exec(column.trim());
    if (pair) { all.add(pair[1]!); all.add(pair[2]!); } else if (single) addOwn(single[1]!, single[2]!);
  }
  for (const column of readFileSync(sharedPath('eia930', 'gridemissions', 'EBA_raw.csv'), 'utf8').split('\n', 1)[0]!.split(',')) {
    const m = /^EBA\.([A-Z0-9]+)-([A-Z0-9]+)\.([A-Z]+)/.exec(column.trim());
    if (!m) continue;
    if (m[2] === 'ALL') addOwn(m[1]!, m[3]!); else { all.add(m[1]!); all.add(m[2]!); }
  }
  return { own, all };
}

for (const target of testDatabases()) {
  describe(`BA registry against EIA's files (${target.name})`, () => {
    let db: Db;
    let bas: Map<string, BalancingAuthority>;
    before(async () => {
      db = await target.open();
      await migrate(db);
      bas = new Map((await listBas(db, { includeRetired: true })).map((b) => [b.code, b]));
    });
    after(() => db.close());

    it("carries EIA's retirement dates and flags (issue 10), and retired BAs are not active", () => {
      for (const [code, retired] of Object.entries(EIA_RETIREMENTS)) assert.equal(bas.get(code)?.retiredOn, retired, `${code} retiredOn`);
      assert.equal(bas.get('GLHB')!.generationOnly, true);
      assert.equal(bas.get('GLHB')!.active, true);
      for (const b of bas.values()) assert.equal(b.active, b.retiredOn === null, `${b.code}: active exactly when not retired (today is past every retirement date)`);
    });

    it('gives every BA a reporting zone and a geographic zone; EPE, PNM and WACM report in Arizona time, IPCO in Pacific, LGEE in Central', () => {
      for (const b of bas.values()) {
        assert.doesNotThrow(() => new Intl.DateTimeFormat('en', { timeZone: b.timeZone }), `${b.code} timeZone`);
        assert.doesNotThrow(() => new Intl.DateTimeFormat('en', { timeZone: b.geographicTimeZone }), `${b.code} geographicTimeZone`);
      }
      const zones = Object.fromEntries(['EPE', 'PNM', 'WACM', 'IPCO', 'LGEE'].map((c) => [c, [bas.get(c)!.timeZone, bas.get(c)!.geographicTimeZone]]));
      assert.deepEqual(zones, {
        EPE: ['America/Phoenix', 'America/Denver'], PNM: ['America/Phoenix', 'America/Denver'], WACM: ['America/Phoenix', 'America/Denver'],
        IPCO: ['America/Los_Angeles', 'America/Boise'], LGEE: ['America/Chicago', 'America/New_York'],
      });
    });

    it("agrees with EIA's BA list (codes, names, reporting zones)", sharedDataTest(), () => {
      const rows = csvRows(sharedPath('reference', 'balancing_authority_acronyms_eia_2019.csv'), 1);
      assert.equal(rows.length, 76, 'the whole list was read');
      for (const r of rows) {
        const b = bas.get(r.Code!);
        assert.ok(b, `${r.Code} in the registry`);
        assert.equal(b.name, RENAMED[b.code] ?? r.Name, `${b.code} name`);
        if (r['Time Zone']) assert.equal(b.timeZone, EIA_ZONES[r['Time Zone']], `${b.code} reporting zone: EIA says ${r['Time Zone']}`);
        else assert.ok(['canada', 'mexico'].includes(b.interconnection), `${b.code}: only non-reporting foreign BAs lack a zone in EIA's list`);
      }
    });

    it("agrees with Open Grid Emissions' BA reference (zones, generation-only, dates) but for the documented exceptions", sharedDataTest(), () => {
      const rows = csvRows(sharedPath('reference', 'oge_ba_reference.csv')).filter((r) => bas.has(r.ba_code!));
      assert.ok(rows.length >= 75, `${rows.length} registry BAs found in OGE's table`);
      for (const r of rows) {
        const b = bas.get(r.ba_code!)!;
        if (r.timezone_reporting_eia930 && !OGE_ZONE_EXCEPTIONS.has(b.code)) assert.ok(sameClock(b.timeZone, r.timezone_reporting_eia930), `${b.code}: reporting zone ${b.timeZone} vs OGE ${r.timezone_reporting_eia930}`);
        if (r.timezone_local && !OGE_ZONE_EXCEPTIONS.has(b.code)) assert.ok(sameClock(b.geographicTimeZone, r.timezone_local), `${b.code}: geographic zone ${b.geographicTimeZone} vs OGE ${r.timezone_local}`);
        assert.equal(b.generationOnly, r.ba_category === 'generation_only', `${b.code} generation-only`);
        const ogeRetired = r.retirement_date ? usDate(r.retirement_date) : null;
        if (!(b.code in EIA_RETIREMENTS)) assert.equal(b.retiredOn, ogeRetired, `${b.code} retirement`);
        const ogeSince = r.activation_date ? usDate(r.activation_date) : null;
        if (ogeSince && ogeSince > '2015-07-01') assert.equal(b.reportingSince, ogeSince, `${b.code}: began after EIA-930 started`);
      }
    });

    it('holds every BA code of the EIA v2 JSON files, with the names EIA gives', sharedDataTest(), () => {
      const seen = new Set<string>();
      for (const file of jsonFiles(sharedPath('eia930', 'v2_json'))) {
        const body = JSON.parse(readFileSync(file, 'utf8')) as { response: { data: Array<Record<string, string>> } };
        for (const r of body.response.data) {
          for (const side of ['respondent', 'fromba', 'toba']) {
            const code = r[side];
            if (code === undefined || HAND_EDITED_CODES.has(code)) continue;
            seen.add(code);
            const b = bas.get(code);
            assert.ok(b, `${code} (${path.basename(file)}) in the registry`);
            const name = r[`${side}-name`];
            if (name !== undefined && !handEditedName(code, name)) assert.equal(b.name, name, `${code} name in ${path.basename(file)}`);
          }
        }
      }
      assert.ok(seen.size >= 13, `${seen.size} codes read`);
    });

    it('holds every BA code of the gridemissions files; a BA without demand columns is generation-only and one with them is not', sharedDataTest(), () => {
      const { own, all } = gridemissionsCodes();
      all.delete('ALL');
      assert.ok(all.size >= 77, `${all.size} codes read`);
      for (const code of all) assert.ok(bas.has(code), `${code} in the registry`);
      for (const [code, kinds] of own) {
        if (code === 'ALL' || !kinds.has('NG')) continue;
        assert.equal(bas.get(code)!.generationOnly, !kinds.has('D'), `${code}: ${kinds.has('D') ? 'reports demand' : 'no demand column'}`);
      }
    });

    it('has data in the gridemissions files only inside each BA\'s reporting dates', sharedDataTest(), () => {
      const rows = readFileSync(sharedPath('eia930', 'gridemissions', 'EBA_raw.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
      const header = rows[0]!;
      let checked = 0;
      for (const row of rows.slice(1)) {
        const t = new Date(row[0]!.replace(' ', 'T').replace('+00:00', 'Z'));
        header.forEach((column, i) => {
          const m = /^EBA\.([A-Z0-9]+)-ALL\./.exec(column);
          if (!m || row[i] === '' || row[i] === undefined) return;
          const { first, last } = activeHours(bas.get(m[1]!)!);
          assert.ok((first === null || first <= t) && (last === null || t <= last), `${m[1]} has data at ${t.toISOString()}`);
          checked++;
        });
      }
      assert.ok(checked > 1000, `${checked} values checked`);
    });

    it("matches the bulk files' local and UTC hour-ending times with each BA's reporting zone", sharedDataTest(), () => {
      const files = ['EIA930_BALANCE_sample.csv', 'EIA930_INTERCHANGE_sample.csv'];
      let checked = 0;
      for (const file of files) {
        for (const r of csvRows(sharedPath('eia930', 'bulk_csv_samples', file))) {
          const b = bas.get(r['Balancing Authority']!);
          assert.ok(b, `${r['Balancing Authority']} in the registry`);
          if (r['Directly Interconnected Balancing Authority']) assert.ok(bas.has(r['Directly Interconnected Balancing Authority']), `${r['Directly Interconnected Balancing Authority']} in the registry`);
          const parse = (s: string) => { // MM/DD/YYYY h:mm:ss AM, read as UTC fields
            const m = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$/.exec(s)!;
            const h = (Number(m[4]) % 12) + (m[7] === 'PM' ? 12 : 0);
            return Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]), h, Number(m[5]));
          };
          const utc = parse(r['UTC Time at End of Hour']!);
          const local = parse(r['Local Time at End of Hour']!);
          assert.equal((local - utc) / 60_000, offsetMinutes(b.timeZone, new Date(utc - 3_600_000)), `${b.code} ${r['UTC Time at End of Hour']}`);
          checked++;
        }
      }
      assert.equal(checked, 18);
    });
  });
}
