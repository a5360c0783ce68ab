import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { AckMessage, ScheduleMessage, TelemetryMessage } from '../messages.ts';
import type { TraceCarrier } from '../../platform/tracing.ts';

/**
 * One message waiting to reach the cloud, with the per-device `seq` it carries; an ack answering a schedule that
 * came with a trace context keeps it (`trace`), so the link sends it back beside the ack (MQTT 5 user properties).
 */
export type OutboxItem = ({ seq: number; kind: 'ack'; message: AckMessage } | { seq: number; kind: 'telemetry'; message: TelemetryMessage }) & { trace?: TraceCarrier };

/**
 * The agent's local store on the device (SQLite built into Node, one file per device): the cached schedule, the
 * highest version the device acknowledged, and the outbox of acks and telemetry. Each outbox row's id is the
 * message's `seq`, so the order written is the order replayed; a row is deleted only once the cloud has it (MQTT
 * PUBACK or HTTP 2xx). A power cut loses nothing the agent believes queued (WAL, synchronous FULL on disk).
 * `:memory:` for the simulator and tests.
 */
export class AgentStore {
  private readonly db: DatabaseSync;
  private readonly insert;
  private readonly deleteUpTo;
  private readonly getStmt;
  private readonly setStmt;
  /**
   * In-memory copies of the state values (read-through, written through): the agent is the only writer of its store,
   * and it reads some of them at every step (the simulator runs thousands of agents in one process). Cleared when a
   * transaction rolls back.
   */
  private readonly cached = new Map<string, string | undefined>();
  /** The schedule value parsed (null: not parsed since it last changed). */
  private cachedSchedule: ScheduleMessage | undefined | null = null;
  /**
   * The outbox as stored, oldest first (written through like the state values): the links read the next window at
   * every send, which read and parsed SQLite rows for each ack (about a seventh of the simulator's busy time in a
   * 10,000-device fan-out, a CPU profile showed). Loaded once when the store opens, so a restart replays what the file holds.
   */
  private readonly outbox: OutboxItem[];
  private readonly begin;
  private readonly commit;
  private readonly rollback;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${path === ':memory:' ? 'OFF' : 'FULL'};
      CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL, trace TEXT);`);
    // a store written by an agent before acks carried their trace context gains the column (NULL: no context)
    if (!(this.db.prepare('PRAGMA table_info(outbox)').all() as Array<{ name: string }>).some((c) => c.name === 'trace')) this.db.exec('ALTER TABLE outbox ADD COLUMN trace TEXT');
    this.insert = this.db.prepare('INSERT INTO outbox (kind, body, trace) VALUES (?, ?, ?)');
    this.deleteUpTo = this.db.prepare('DELETE FROM outbox WHERE seq <= ?');
    this.getStmt = this.db.prepare('SELECT value FROM state WHERE key = ?');
    this.setStmt = this.db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.begin = this.db.prepare('BEGIN IMMEDIATE');
    this.commit = this.db.prepare('COMMIT');
    this.rollback = this.db.prepare('ROLLBACK');
    this.outbox = (this.db.prepare('SELECT seq, kind, body, trace FROM outbox ORDER BY seq').all() as { seq: number; kind: OutboxItem['kind']; body: string; trace: string | null }[])
      .map((r) => ({ seq: Number(r.seq), kind: r.kind, message: { ...JSON.parse(r.body), seq: Number(r.seq) }, ...(r.trace ? { trace: JSON.parse(r.trace) as TraceCarrier } : {}) }) as OutboxItem);
  }

  /** A small named value of the agent's own progress (e.g. which version's `executing` ack went out), or undefined. */
  get(key: string): string | undefined {
    if (!this.cached.has(key)) this.cached.set(key, (this.getStmt.get(key) as { value: string } | undefined)?.value);
    return this.cached.get(key);
  }

  /** Stores a named value of the agent's own progress. */
  set(key: string, value: string): void {
    if (key === 'schedule') this.cachedSchedule = null;
    this.setStmt.run(key, value);
    this.cached.set(key, value);
  }

  /** The schedule the agent executes (the newest accepted), if any. */
  schedule(): ScheduleMessage | undefined {
    if (this.cachedSchedule === null) {
      const v = this.get('schedule');
      this.cachedSchedule = v === undefined ? undefined : (JSON.parse(v) as ScheduleMessage);
    }
    return this.cachedSchedule;
  }

  /** The highest version this device acknowledged (accepted or refused); 0 before any. */
  ackedVersion(): number {
    return Number(this.get('acked_version') ?? 0);
  }

  /**
   * Queues an ack, stamping its `seq`, and in the same transaction caches `schedule` (when accepting one; `null`
   * forgets the cached one, when refusing a newer version) and raises the highest acknowledged version — so a crash
   * cannot leave an ack queued for a version the device forgot. `trace`: the context the schedule came with, sent
   * back with the ack.
   */
  queueAck(ack: Omit<AckMessage, 'seq'>, schedule?: ScheduleMessage | null, trace?: TraceCarrier): AckMessage {
    this.begin.run();
    const queuedBefore = this.outbox.length;
    try {
      if (schedule) this.set('schedule', JSON.stringify(schedule));
      if (schedule === null) {
        this.db.prepare(`DELETE FROM state WHERE key = 'schedule'`).run();
        this.cached.delete('schedule');
        this.cachedSchedule = null;
      }
      if (ack.version > this.ackedVersion()) this.set('acked_version', String(ack.version));
      const message = this.push('ack', ack, trace) as AckMessage;
      this.commit.run();
      return message;
    } catch (err) {
      this.rollback.run();
      this.outbox.length = queuedBefore;
      this.cached.clear();
      this.cachedSchedule = null;
      throw err;
    }
  }

  /** Queues a telemetry reading, stamping its `seq`. */
  queueTelemetry(t: Omit<TelemetryMessage, 'seq'>): TelemetryMessage {
    return this.push('telemetry', t) as TelemetryMessage;
  }

  private push(kind: OutboxItem['kind'], body: Omit<AckMessage, 'seq'> | Omit<TelemetryMessage, 'seq'>, trace?: TraceCarrier): AckMessage | TelemetryMessage {
    // the row id is the seq, added to the body when read back
    const seq = Number(this.insert.run(kind, JSON.stringify(body), trace ? JSON.stringify(trace) : null).lastInsertRowid);
    const message = { ...body, seq } as AckMessage | TelemetryMessage;
    this.outbox.push({ seq, kind, message, ...(trace ? { trace } : {}) } as OutboxItem);
    return message;
  }

  /** Up to `limit` queued messages after `afterSeq`, oldest first (the items themselves: callers do not change them). */
  pending(limit = 100, afterSeq = 0): OutboxItem[] {
    const i = this.countUpTo(afterSeq);
    return this.outbox.slice(i, i + limit);
  }

  /** Forgets every queued message up to and including `seq` — the cloud has them all (they are sent in order). */
  delivered(seq: number): void {
    this.deleteUpTo.run(seq);
    this.outbox.splice(0, this.countUpTo(seq));
  }

  /** How many kept outbox items have a seq ≤ `seq` (they lead the outbox: it is in seq order). */
  private countUpTo(seq: number): number {
    let n = 0;
    while (n < this.outbox.length && this.outbox[n]!.seq <= seq) n++;
    return n;
  }

  /** How many messages wait for the cloud. */
  queued(): number {
    return this.outbox.length;
  }

  close(): void { this.db.close(); }
}
