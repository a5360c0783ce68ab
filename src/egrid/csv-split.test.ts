import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { csvParts } from './csv-split.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'egrid-csv-split-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * A cell as a CSV writer puts it: plain, or quoted with its quotes doubled (then it may hold commas and line breaks,
 * written with the file's line ending, as spreadsheet programs do).
 */
const cell = (eol: string) => fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9 .()-]{0,6}$/),
  fc.array(fc.constantFrom('a', ',', '"', eol, '1', ' '), { maxLength: 6 }).map((cs) => `"${cs.join('').replaceAll('"', '""')}"`),
);
const csv = fc.constantFrom('\n', '\r\n').chain((eol) => fc.array(fc.array(cell(eol), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 40 })
  .map((rows) => rows.map((r) => r.join(',')).join(eol) + eol));

let n = 0;
const write = (text: string) => { const file = path.join(tmp, `f${++n}.csv`); writeFileSync(file, text); return file; };

describe('csvParts: cutting a CSV file between records for parallel readers', () => {
  it('parts cover the file end to end, each starts at a record boundary, and its records and line numbers are those of the whole file', async () => {
    await fc.assert(fc.asyncProperty(csv, fc.integer({ min: 1, max: 5 }), async (text, parts) => {
      const file = write(text);
      const bytes = readFileSync(file);
      const cut = await csvParts(file, parts);
      assert.ok(cut.length >= 1 && cut.length <= parts);
      assert.equal(cut[0]!.start, 0);
      assert.equal(cut.at(-1)!.end, bytes.length);
      const whole = parse(bytes, { relax_column_count: true, info: true }) as unknown as { record: string[]; info: { lines: number } }[];
      const pieces: { record: string[]; line: number }[] = [];
      for (let i = 0; i < cut.length; i++) {
        const p = cut[i]!;
        if (i > 0) assert.equal(p.start, cut[i - 1]!.end);
        assert.ok(p.end > p.start, 'no empty part');
        const got = parse(bytes.subarray(p.start, p.end), { relax_column_count: true, info: true }) as unknown as { record: string[]; info: { lines: number } }[];
        pieces.push(...got.map((r) => ({ record: r.record, line: p.firstLine - 1 + r.info.lines })));
      }
      assert.deepEqual(pieces, whole.map((r) => ({ record: r.record, line: r.info.lines })));
    }), { numRuns: 300 });
  });

  it('never cuts inside a quoted field: a file whose every line break is quoted stays whole', async () => {
    const file = write(`a,"${'x\n'.repeat(5000)}",b\n`);
    assert.deepEqual(await csvParts(file, 4), [{ start: 0, end: readFileSync(file).length, firstLine: 1 }]);
  });

  it('cuts a large file into parts of similar size', async () => {
    const file = write('1,"Plant, A",2.5\n'.repeat(200_000));
    const cut = await csvParts(file, 2);
    assert.equal(cut.length, 2);
    const size = readFileSync(file).length;
    assert.ok(Math.abs(cut[0]!.end - size / 2) <= 17, `cut at ${cut[0]!.end} of ${size}`);
    assert.equal(cut[1]!.firstLine, 100_001);
  });
});
