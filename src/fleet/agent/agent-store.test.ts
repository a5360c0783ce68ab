import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pino } from 'pino';
import fc from 'fast-check';
import { AgentStore } from './agent-store.ts';
import { Agent } from './agent.ts';
import { DEFAULT_BATTERY, SimulatedBattery } from './battery.ts';

const ack = (version: number) => ({ schema: 'gridpulse.ack/1' as const, deviceId: 'bat-store-1', version, state: 'acknowledged' as const, at: '2026-01-01T00:00:00.000Z' });
const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('agent store: the trace context of an ack', () => {
  it('keeps the context an ack answers beside it in the outbox, and none for one without', () => {
    const store = new AgentStore(':memory:');
    store.queueAck(ack(1), undefined, { traceparent, tracestate: 'gp=1' });
    store.queueAck(ack(2));
    store.queueTelemetry({ schema: 'gridpulse.telemetry/1', deviceId: 'bat-store-1', at: '2026-01-01T00:00:00.000Z', socPct: 50, powerKw: 0, scheduleVersion: 0, mode: 'idle' });
    const [a, b, t] = store.pending();
    assert.deepEqual(a!.trace, { traceparent, tracestate: 'gp=1' });
    assert.equal(b!.trace, undefined);
    assert.equal(t!.trace, undefined);
    assert.equal('trace' in a!.message, false, 'the context travels beside the message, not in its JSON');
    store.close();
  });

  it('a store written before acks carried a context gains the column; its queued messages are still sent, without one', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gp-agent-store-'));
    try {
      const file = path.join(dir, 'agent.sqlite');
      const old = new DatabaseSync(file);
      old.exec(`CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL);`);
      old.prepare('INSERT INTO outbox (kind, body) VALUES (?, ?)').run('ack', JSON.stringify(ack(1)));
      old.close();
      const store = new AgentStore(file);
      store.queueAck(ack(2), undefined, { traceparent });
      const items = store.pending();
      assert.deepEqual(items.map((i) => [i.seq, i.kind === 'ack' ? i.message.version : null, i.trace?.traceparent]), [[1, 1, undefined], [2, 2, traceparent]]);
      store.close();
      new AgentStore(file).close(); // opening it again does not add the column twice
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('the agent answers a schedule with the context it came with, a re-delivery with the re-delivery\'s', () => {
    const store = new AgentStore(':memory:');
    const now = () => Date.parse('2026-01-01T00:00:00Z');
    const agent = new Agent({ deviceId: 'bat-store-1', store, driver: new SimulatedBattery(DEFAULT_BATTERY, now, 50), clock: now, logger: pino({ level: 'silent' }) });
    const schedule = { schema: 'gridpulse.schedule/1', deviceId: 'bat-store-1', version: 1, issuedAt: '2026-01-01T00:00:00Z', intervals: [{ start: '2026-01-01T01:00:00Z', end: '2026-01-01T02:00:00Z', action: 'idle' }], fallback: 'hold-soc' };
    assert.equal(agent.receive(schedule, { traceparent }), 'accepted');
    assert.equal(store.pending()[0]!.trace?.traceparent, traceparent);
    store.delivered(store.pending()[0]!.seq);
    const again = '00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01';
    assert.equal(agent.receive(schedule, { traceparent: again }), 'duplicate');
    assert.equal(store.pending()[0]!.trace?.traceparent, again);
    store.close();
  });
});

describe('agent store: the outbox kept in memory is the outbox on disk', () => {
  it('after any run of queueing, delivering and reopening, pending() and queued() are what a fresh read of the file gives', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gp-agent-outbox-'));
    try {
      let run = 0;
      fc.assert(fc.property(fc.array(fc.oneof(
        fc.record({ op: fc.constant('ack' as const), traced: fc.boolean() }),
        fc.record({ op: fc.constant('telemetry' as const) }),
        fc.record({ op: fc.constant('deliver' as const), upTo: fc.nat(5) }),
        fc.record({ op: fc.constant('reopen' as const) }),
      ), { maxLength: 40 }), (ops) => {
        const file = path.join(dir, `agent-${run++}.sqlite`);
        let store = new AgentStore(file);
        let version = 0;
        try {
          for (const o of ops) {
            if (o.op === 'ack') store.queueAck(ack(++version), undefined, o.traced ? { traceparent } : undefined);
            else if (o.op === 'telemetry') store.queueTelemetry({ schema: 'gridpulse.telemetry/1', deviceId: 'bat-store-1', at: '2026-01-01T00:00:00.000Z', socPct: 50, powerKw: 0, scheduleVersion: 0, mode: 'idle' });
            else if (o.op === 'deliver') { const p = store.pending(o.upTo + 1); if (p.length) store.delivered(p.at(-1)!.seq); }
            else { store.close(); store = new AgentStore(file); }
          }
          const onDisk = new DatabaseSync(file);
          const rows = onDisk.prepare('SELECT seq, kind, body, trace FROM outbox ORDER BY seq').all() as { seq: number; kind: string; body: string; trace: string | null }[];
          onDisk.close();
          const expected = rows.map((r) => ({ seq: Number(r.seq), kind: r.kind, message: { ...JSON.parse(r.body), seq: Number(r.seq) }, ...(r.trace ? { trace: JSON.parse(r.trace) } : {}) }));
          assert.deepEqual(store.pending(1_000), expected);
          assert.equal(store.queued(), rows.length);
          // a window after a seq starts past it
          if (expected.length > 1) assert.deepEqual(store.pending(2, expected[0]!.seq), expected.slice(1, 3));
        } finally { store.close(); }
      }), { numRuns: 60 });
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
