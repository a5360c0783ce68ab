import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpProblem } from '../platform/problem.ts';
import { inspectEgridFile } from '../egrid/import-file.ts';
import { cliProblem, egridImportCommand } from './egrid-command.ts';

/** Runs fn with what it writes to stdout and stderr recorded (and still written: the test runner reports through stdout). */
async function captured(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []; const err: string[] = [];
  const [w1, w2] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((c: string | Uint8Array, ...rest: never[]) => { out.push(String(c)); return w1.call(process.stdout, c, ...rest); }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array, ...rest: never[]) => { err.push(String(c)); return w2.call(process.stderr, c, ...rest); }) as typeof process.stderr.write;
  try {
    const code = await fn();
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = w1; process.stderr.write = w2;
  }
}

describe('gridpulse egrid import: wording', () => {
  let dir: string;
  const saved = { DATA_DIR: process.env.DATA_DIR, DATABASE_URL: process.env.DATABASE_URL, LOG_LEVEL: process.env.LOG_LEVEL };
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'egrid-cli-test-'));
    process.env.DATA_DIR = path.join(dir, 'data');
    delete process.env.DATABASE_URL; // the CLI on its embedded PGlite store: no server needed
    process.env.LOG_LEVEL = 'silent';
  });
  after(() => {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a refused file once, and a missing year points to --year', async () => {
    const nohead = path.join(dir, 'columns.csv');
    writeFileSync(nohead, 'name,value\na,1\n');
    const err = await inspectEgridFile(nohead, 'columns.csv').catch((e: unknown) => e);
    assert.ok(err instanceof HttpProblem);
    const text = cliProblem(err, 'columns.csv');
    assert.equal(text.split('columns.csv').length - 1, 1, text);
    const xwalk = path.join(dir, 'xwalk_oris_subregion.csv');
    writeFileSync(xwalk, 'PSTATABB,PNAME,ORISPL,SUBRGN\nMO,Outlaw Wind,63574,MROW\n');
    const noYear = await inspectEgridFile(xwalk, 'xwalk_oris_subregion.csv').catch((e: unknown) => e);
    assert.ok(noYear instanceof HttpProblem);
    assert.equal(noYear.field, 'year');
    assert.match(cliProblem(noYear, 'xwalk_oris_subregion.csv'), /^xwalk_oris_subregion\.csv has no YEAR column.*--year/);
    await assert.rejects(egridImportCommand(xwalk, {}), (e: Error) => /--year/.test(e.message) && !/xwalk_oris_subregion\.csv: xwalk_oris_subregion\.csv/.test(e.message));
  });

  it('prints the rejected rows itself (first N, then how many more) and never points to an HTTP API that may not run', async () => {
    const file = path.join(dir, 'egrid2039_GEN39.csv');
    const rows = Array.from({ length: 30 }, (_, i) => `${i + 1},2039,TX,P${i},${700 + i},G1,${i < 25 ? 'lots' : 5},0.5,10`);
    writeFileSync(file, ['SEQGEN,YEAR,PSTATABB,PNAME,ORISPL,GENID,NAMEPCAP,CFACT,GENNTAN', ...rows].join('\n') + '\n');
    const run = await captured(() => egridImportCommand(file, { maxErrors: 5 }));
    assert.equal(run.code, 2, run.out + run.err);
    const listed = run.out.split('\n').filter((l) => /^ {2}GEN39|^ {2}egrid2039_GEN39\.csv line /.test(l) || / line \d+ NAMEPCAP/.test(l));
    assert.equal(listed.length, 5, run.out);
    assert.match(run.out, /… 20 more rejected row\(s\) \(more with --max-errors N\)/);
    assert.doesNotMatch(run.out + run.err, /\/api\/v1/);
  });
});
