import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { createLogger } from './log.ts';
import { runShutdown, type ShutdownStep } from './shutdown.ts';

function capture() {
  const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const sink = new Writable({ write(chunk, _e, done) { for (const l of String(chunk).split('\n').filter(Boolean)) { const { msg, ...fields } = JSON.parse(l) as Record<string, unknown>; lines.push({ fields, msg: String(msg) }); } done(); } });
  return { lines, logger: createLogger('info', sink) };
}

describe('runShutdown', () => {
  it('a step that throws, rejects or hangs is logged naming it, bounded, and the later steps still run', async () => {
    const ran: string[] = [];
    const { lines, logger } = capture();
    const started = Date.now();
    const failed = await runShutdown([
      { name: 'cache', run: () => { ran.push('cache'); throw new Error('Stream isn\'t writeable'); } },
      { name: 'database', run: async () => { ran.push('database'); } },
      { name: 'tracing', timeoutMs: 200, run: () => { ran.push('tracing'); return new Promise(() => {}); } },
      { name: 'server', run: async () => { ran.push('server'); throw new Error('closed twice'); } },
      { name: 'last', run: () => { ran.push('last'); } },
    ], logger);
    assert.deepEqual(ran, ['cache', 'database', 'tracing', 'server', 'last']);
    assert.deepEqual(failed, [
      { step: 'cache', error: 'Stream isn\'t writeable' },
      { step: 'tracing', error: 'did not finish within 200 ms' },
      { step: 'server', error: 'closed twice' },
    ]);
    assert.deepEqual(lines.map((l) => [l.msg, l.fields.step, l.fields.err]), failed.map((f) => ['shutdown step failed', f.step, f.error]));
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 2_000, `the hung step held the stop for its bound only (${took} ms)`);
  });

  it('runs every step once, in order, whatever each does (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom('ok', 'throw', 'reject', 'hang'), { maxLength: 6 }), async (kinds) => {
      const ran: number[] = [];
      const steps: ShutdownStep[] = kinds.map((k, i) => ({
        name: `s${i}`, timeoutMs: 5,
        run: () => {
          ran.push(i);
          if (k === 'throw') throw new Error('x');
          if (k === 'reject') return Promise.reject(new Error('y'));
          if (k === 'hang') return new Promise(() => {});
          return undefined;
        },
      }));
      const failed = await runShutdown(steps, capture().logger);
      assert.deepEqual(ran, kinds.map((_, i) => i));
      assert.deepEqual(failed.map((f) => f.step), kinds.flatMap((k, i) => (k === 'ok' ? [] : [`s${i}`])));
    }), { numRuns: 50 });
  });
});
