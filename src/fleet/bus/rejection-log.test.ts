import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import fc from 'fast-check';
import { RejectionLog } from './rejection-log.ts';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  return { lines, logger: pino({ level: 'warn' }, stream) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('RejectionLog', () => {
  it('20,000 junk messages from one device: every one counted, one line plus one summary', async () => {
    const { lines, logger } = capture();
    const counted = new Map<string, number>();
    const rejections = new RejectionLog(logger, 'device message dropped', (reason) => counted.set(reason, (counted.get(reason) ?? 0) + 1));
    for (let i = 0; i < 20_000; i++) rejections.refuse('dev-junk', i % 2 ? 'not-json' : 'schema');
    rejections.close();
    await tick();
    assert.deepEqual(Object.fromEntries(counted), { schema: 10_000, 'not-json': 10_000 });
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.deviceId, 'dev-junk');
    assert.deepEqual(lines[1]!.byReason, { schema: 9_999, 'not-json': 10_000 });
    assert.equal(lines[1]!.suppressed, 19_999);
  });

  it('logs the first refusal of each device in each window, and the summary accounts for the rest (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.array(fc.tuple(fc.constantFrom('dev-a', 'dev-b', 'dev-c'), fc.constantFrom('oversized', 'schema')), { maxLength: 50 }), { minLength: 1, maxLength: 4 }),
      async (windows) => {
        const { lines, logger } = capture();
        const rejections = new RejectionLog(logger, 'dropped', () => {}, 3_600_000);
        for (const w of windows) {
          for (const [device, reason] of w) rejections.refuse(device, reason);
          rejections.flush();
        }
        rejections.close();
        await tick();
        const firsts = lines.filter((l) => l.reason !== undefined);
        const summaries = lines.filter((l) => l.suppressed !== undefined);
        const expectedFirsts = windows.reduce((n, w) => n + new Set(w.map(([d]) => d)).size, 0);
        const total = windows.reduce((n, w) => n + w.length, 0);
        assert.equal(firsts.length, expectedFirsts);
        assert.equal(summaries.reduce((n, l) => n + (l.suppressed as number), 0), total - expectedFirsts);
        assert.ok(summaries.length <= windows.length);
      },
    ), { numRuns: 100 });
  });
});
