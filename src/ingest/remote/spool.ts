import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** What the worker sends GridPulse for a run: open it, a batch of its rows, close it. */
export interface SpoolItem { op: 'open' | 'rows' | 'finish'; run: string; body: unknown }

/**
 * The off-site worker's outbox on disk (SQLite, built into Node): everything it fetched is written
 * here before it is sent, in order, and deleted only once GridPulse has taken it, so nothing is
 * lost while GridPulse is unreachable or when the worker itself is restarted. Items GridPulse
 * refuses for good are moved to `refused` (kept, with the reason), never dropped.
 */
export class Spool {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    // a crash or power cut must not lose an item the worker believes is queued
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, run TEXT NOT NULL, body TEXT NOT NULL,
        queued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')));
      CREATE TABLE IF NOT EXISTS refused (seq INTEGER PRIMARY KEY, op TEXT NOT NULL, run TEXT NOT NULL, body TEXT NOT NULL,
        status INTEGER NOT NULL, detail TEXT NOT NULL, refused_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')));`);
  }

  push(item: SpoolItem): number {
    const r = this.db.prepare('INSERT INTO outbox (op, run, body) VALUES (?, ?, ?)').run(item.op, item.run, JSON.stringify(item.body));
    return Number(r.lastInsertRowid);
  }

  /** The oldest item not yet sent. */
  peek(): (SpoolItem & { seq: number }) | undefined {
    const r = this.db.prepare('SELECT seq, op, run, body FROM outbox ORDER BY seq LIMIT 1').get() as { seq: number; op: SpoolItem['op']; run: string; body: string } | undefined;
    return r && { seq: r.seq, op: r.op, run: r.run, body: JSON.parse(r.body) };
  }

  remove(seq: number): void {
    this.db.prepare('DELETE FROM outbox WHERE seq = ?').run(seq);
  }

  /** Moves an item GridPulse refused for good aside, with the reason. */
  park(seq: number, status: number, detail: string): void {
    this.db.exec('BEGIN');
    try {
      this.db.prepare('INSERT INTO refused (seq, op, run, body, status, detail) SELECT seq, op, run, body, ?, ? FROM outbox WHERE seq = ?').run(status, detail, seq);
      this.remove(seq);
      this.db.exec('COMMIT');
    } catch (err) { this.db.exec('ROLLBACK'); throw err; }
  }

  /** Items waiting, and items refused for good. */
  counts(): { queued: number; refused: number } {
    const q = this.db.prepare('SELECT (SELECT count(*) FROM outbox) AS queued, (SELECT count(*) FROM refused) AS refused').get() as { queued: number; refused: number };
    return { queued: Number(q.queued), refused: Number(q.refused) };
  }

  close(): void { this.db.close(); }
}
