import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import { openDb } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { listBas } from './ba-repository.ts';
import { clipToActive } from './active-dates.ts';
import { INTERCONNECTIONS } from './interconnections.ts';

/** The US BAs of the registry reporting on 10–20 July 2021, the file's dates (Canadian and Mexican BAs have no EIA-930 fuel data). */
async function usBas(): Promise<Set<string>> {
  const db = await openDb({ dataDir: ':memory:' });
  try {
    await migrate(db);
    return new Set((await listBas(db, { includeRetired: true }))
      .filter((b) => b.interconnection !== 'canada' && b.interconnection !== 'mexico')
      .filter((b) => clipToActive(b, new Date('2021-07-10T00:00Z'), new Date('2021-07-20T00:00Z')))
      .map((b) => b.code));
  } finally { await db.close(); }
}

describe('interconnections', () => {
  it('lists unordered pairs of known US BAs, each once, sorted, no self pairs', async () => {
    const known = await usBas();
    const keys = INTERCONNECTIONS.map(([a, b]) => `${a}-${b}`);
    assert.equal(new Set(keys).size, keys.length, 'no duplicates');
    assert.deepEqual(keys, [...keys].sort(), 'sorted');
    for (const [a, b] of INTERCONNECTIONS) {
      assert.ok(a < b, `${a}-${b}: ordered once, not a self pair`);
      assert.ok(known.has(a) && known.has(b), `${a}-${b}: both US BAs reporting in July 2021`);
    }
  });

  it('is what the real EIA-930 file gives (E_<A>-<B>_ID columns between US BAs reporting then)', sharedDataTest(), async () => {
    const known = await usBas();
    const header = readFileSync(sharedPath('eia930', 'gridemissions', 'E_raw_2021-07-10_2021-07-20.csv'), 'utf8').split('\n', 1)[0]!.split(',');
    const pairs = new Set<string>();
    for (const column of header) {
      const m = /^E_([A-Z0-9]+)-([A-Z0-9]+)_ID$/.exec(column.trim());
      if (!m || m[1] === m[2] || !known.has(m[1]!) || !known.has(m[2]!)) continue;
      pairs.add([m[1]!, m[2]!].sort().join('-'));
    }
    assert.deepEqual(INTERCONNECTIONS.map(([a, b]) => `${a}-${b}`), [...pairs].sort());
  });
});
