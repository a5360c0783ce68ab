import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createLogger, withFields } from './log.ts';
import { openDb } from './db.ts';
import { migrate } from './migrate.ts';
import { listBas } from '../grid/ba-repository.ts';
import { loadSimulatedGrid } from '../ingest/simulated-grid.ts';

/** A logger writing into an array of raw JSON lines. */
function capture(level = 'info', make: (level: string, sink: Writable) => Logger = createLogger) {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
  return { lines, logger: make(level, sink) };
}
/** How many times each key occurs in a raw JSON line (JSON.parse would hide a repeat by keeping the last). */
const keyCounts = (line: string) => {
  const counts: Record<string, number> = {};
  for (const m of line.matchAll(/"([A-Za-z_][\w]*)":/g)) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
  return counts;
};

describe('log lines name each field once', () => {
  it('a field repeated with its bound value is written once; a different value is kept', () => {
    const { lines, logger } = capture();
    const run = logger.child({ runId: 7 });
    run.info({ runId: 7, rows: 3 }, 'same value');
    run.info({ runId: 8 }, 'another run named on purpose');
    withFields(run, { runId: 7 }).info({ rows: 1 }, 'withFields adds nothing bound already');
    withFields(logger, { runId: 9 }).info('withFields binds what is missing');
    const parsed = lines.map((l) => JSON.parse(l) as { msg: string; runId: number; rows?: number });
    assert.deepEqual(parsed.map((p) => [p.msg, p.runId, p.rows]), [
      ['same value', 7, 3], ['another run named on purpose', 8, undefined], ['withFields adds nothing bound already', 7, 1], ['withFields binds what is missing', 9, undefined],
    ]);
    assert.deepEqual(lines.map((l) => keyCounts(l).runId), [1, 2, 1, 1]);
  });

  it('a real ingest run (simulated grid, then its quality checks) logs one runId per line', async () => {
    const db = await openDb({ dataDir: ':memory:' });
    try {
      await migrate(db);
      // a bare pino logger, without createLogger's safety net: the call sites themselves must not repeat the field
      const { lines, logger } = capture('debug', (level, sink) => pino({ level }, sink));
      const bas = (await listBas(db)).filter((b) => b.code === 'CISO' || b.code === 'BANC');
      await loadSimulatedGrid({ db, logger }, bas, new Date(Date.UTC(2026, 0, 1)), 12);
      const withRun = lines.filter((l) => l.includes('"runId"'));
      assert.ok(withRun.some((l) => l.includes('quality checks finished')), `the check runner logged: ${lines.join('\n')}`);
      for (const l of withRun) assert.equal(keyCounts(l).runId, 1, l);
    } finally { await db.close(); }
  });
});
