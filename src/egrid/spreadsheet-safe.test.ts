import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { neutraliseCell, safeCsv, safeXlsx } from './spreadsheet-safe.ts';

const dangerous = fc.tuple(fc.constantFrom('=', '+', '-', '@', '\t', '\r'), fc.string()).map(([a, b]) => a + b);
const anyText = fc.oneof(dangerous, fc.string());

test('every text cell that begins with = + - @ tab or CR is neutralised; other text and numbers are untouched', () => {
  fc.assert(fc.property(anyText, (s) => {
    const out = neutraliseCell(s) as string;
    if (/^[=+\-@\t\r]/.test(s)) return out === `'${s}` && !/^[=+\-@\t\r]/.test(out);
    return out === s;
  }));
  assert.equal(neutraliseCell(-48), -48);
  assert.equal(neutraliseCell(null), null);
  assert.equal(neutraliseCell('=HYPERLINK("http://x","y")'), '\'=HYPERLINK("http://x","y")');
});

test('CSV read back: no cell of a neutralised download starts a formula, and the text is kept after the apostrophe', () => {
  fc.assert(fc.property(fc.array(fc.tuple(anyText, fc.double({ noNaN: true, noDefaultInfinity: true })), { maxLength: 20 }), (rows) => {
    const csv = safeCsv(['name', 'value'], rows);
    const back = parse(csv, { columns: true, relax_quotes: true }) as Array<{ name: string; value: string }>;
    assert.equal(back.length, rows.length);
    back.forEach((r, i) => {
      assert.ok(!/^[=+\-@\t\r]/.test(r.name), JSON.stringify(r.name));
      assert.equal(r.name, neutraliseCell(rows[i]![0]));
      assert.ok(Number(r.value) === rows[i]![1], `${r.value} vs ${rows[i]![1]}`);
    });
  }), { numRuns: 200 });
});

test('XLSX: dangerous text is stored as text with its apostrophe, never as a formula; numbers stay numbers', async () => {
  await fc.assert(fc.asyncProperty(fc.array(dangerous, { minLength: 1, maxLength: 10 }), async (texts) => {
    const buf = await safeXlsx([{ name: 'Plants', header: ['=name', 'mw'], rows: texts.map((t, i) => [t, -i]) }]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(buf as unknown as ArrayBuffer);
    const ws = wb.getWorksheet('Plants')!;
    assert.equal(ws.getCell('A1').value, "'=name");
    texts.forEach((t, i) => {
      const c = ws.getCell(i + 2, 1);
      assert.equal(c.type, ExcelJS.ValueType.String);
      // XML reads a carriage return back as a line feed
      assert.equal(c.value, `'${t}`.replace(/\r\n?/g, '\n'));
      assert.ok(ws.getCell(i + 2, 2).value === -i);
    });
  }), { numRuns: 20 });
});
