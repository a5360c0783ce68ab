import { refusedForContent, type Db } from '../../platform/db.ts';
import { splitPlausible, verdicts, type Implausible, type ImplausibleRule } from '../telemetry-check.ts';
import { MESSAGE_MAX_AGE_MS, MESSAGE_MAX_AHEAD_MS, splitByWindow, type AckMessage, type StatusMessage, type TelemetryMessage } from '../messages.ts';

/**
 * What the gateway hands on after storing a batch, in the same transaction: fleet-core's ledger
 * (src/fleet/ledger.ts applyAcks / applyStatus / applyTelemetryLatest). Only messages stored for the first
 * time reach `applyAcks` and `applyTelemetryLatest`: a resent or redelivered one is dropped here.
 */
export interface LedgerSink {
  applyAcks(db: Db, acks: AckMessage[], now?: Date): Promise<unknown>;
  applyStatus(db: Db, statuses: StatusMessage[], now?: Date): Promise<unknown>;
  /** `judged`: the plausibility verdicts storeBatch decided for these readings in this transaction (stored with them): to reuse, not decide again */
  applyTelemetryLatest(db: Db, telemetry: TelemetryMessage[], now?: Date, judged?: readonly Implausible[]): Promise<unknown>;
  /**
   * Locks the device rows in id order (ledger.ts lockDevices): the batch's first step, so its writes follow the one lock
   * order. Returns the ids among them that are revoked (their messages are dropped); a sink without it has storeBatch ask.
   */
  lockDevices?(db: Db, ids: Iterable<string>): Promise<ReadonlySet<string>>;
}

export interface IngestBatch { acks: AckMessage[]; telemetry: TelemetryMessage[]; statuses: StatusMessage[] }
export interface IngestResult {
  /** acks stored now; the rest of the batch's acks were already stored (same device and seq) */
  acksStored: number; acksDuplicate: number;
  telemetryStored: number; telemetryDuplicate: number;
  /** telemetry whose `at` lies outside [now − TELEMETRY_MAX_AGE, now + TELEMETRY_MAX_AHEAD]: not stored */
  telemetryOutOfWindow: number;
  /** acks and statuses whose `at` lies outside the same window: not stored, not applied */
  acksOutOfWindow: number; statusesOutOfWindow: number;
  statuses: number;
  /** acks, telemetry and statuses of a device revoked before the batch was stored (in flight, or queued in the batch): dropped */
  fromRevoked: number;
}

/** Telemetry older than this (a device offline longer, or a wrong clock) is not stored (messages.ts, for every device message). */
export const TELEMETRY_MAX_AGE_MS = MESSAGE_MAX_AGE_MS;
/** Telemetry further in the future than this (a device clock ahead) is not stored: it would create partitions. */
export const TELEMETRY_MAX_AHEAD_MS = MESSAGE_MAX_AHEAD_MS;

const ACK_COLUMNS = ['device_id', 'seq', 'version', 'state', 'at', 'reason', 'interval_index'] as const;
const TELEMETRY_COLUMNS = ['device_id', 'at', 'seq', 'soc_pct', 'power_kw', 'schedule_version', 'mode', 'implausible'] as const;

const key = (deviceId: string, seq: number, atMs?: number) => `${deviceId}\u0000${seq}\u0000${atMs ?? ''}`;

/** What storeBatch stored: the counts, the ack latencies its sink observed, the readings it did not apply as implausible. */
export type StoredBatch = IngestResult & { ackLatencySeconds: number[]; implausible: Implausible[] };

/**
 * Stores one batch of the device bus in ONE transaction: acks into device_acks and telemetry into the daily
 * partitions of device_telemetry, each by COPY into a session-local staging table and one
 * `INSERT … SELECT DISTINCT ON … ON CONFLICT DO NOTHING RETURNING` (a message repeated within the batch, or
 * stored before, is dropped: exactly once per (device, seq)); then hands the new acks, the new telemetry and
 * every status to `sink` in the same transaction, so the ledger never says more or less than the log. The batch's
 * devices are locked first, in id order (sink.lockDevices), so it never deadlocks with an issuer or a publisher. Rejects
 * (and stores nothing) when the database refuses: the caller has not yet confirmed (PUBACKed) any of its messages; it
 * isolates the messages refused for their content (storeIsolating) and retries the batch on any other failure.
 * `ackLatencySeconds` is what the sink's applyAcks reported (ledger.ts: per version first acknowledged, seconds since its publication), committed with the batch; `implausible` the new
 * readings its applyTelemetryLatest did not apply (telemetry-check.ts: decided here, under the devices' locks, before
 * the series is written; stored in it flagged with their rule, not the device's state).
 */
export async function storeBatch(db: Db, batch: IngestBatch, sink: LedgerSink, now = new Date()): Promise<StoredBatch> {
  const { inWindow: telemetry } = splitByWindow(batch.telemetry, now.getTime());
  const acks = splitByWindow(batch.acks, now.getTime());
  const statuses = splitByWindow(batch.statuses, now.getTime());
  return db.transaction(async (tx) => {
    // every device of the batch locked at once, in id order, before any write (the lock order: ledger.ts)
    const ids = [...acks.inWindow, ...telemetry, ...statuses.inWindow].map((m) => m.deviceId);
    // a revoked device's messages are dropped here, under its row lock: a revocation that committed while they were in
    // flight or queued in this batch is seen, whichever broker carried them
    const revoked = sink.lockDevices ? await sink.lockDevices(tx, ids) : await revokedAmong(tx, ids);
    const own = <T extends { deviceId: string }>(msgs: T[]) => (revoked.size ? msgs.filter((m) => !revoked.has(m.deviceId)) : msgs);
    const ackList = own(acks.inWindow);
    const telemetryList = own(telemetry);
    const statusList = own(statuses.inWindow);
    const fromRevoked = acks.inWindow.length + telemetry.length + statuses.inWindow.length - ackList.length - telemetryList.length - statusList.length;
    const freshAcks = ackList.length ? await storeAcks(tx, ackList) : [];
    // plausibility decided once, under the locks, before the rows are written: stored with them, reused by the sink
    const judged = telemetryList.length ? (await splitPlausible(tx, telemetryList)).implausible : [];
    const freshTelemetry = telemetryList.length ? await storeTelemetry(tx, telemetryList, judged) : [];
    const applied = freshAcks.length ? await sink.applyAcks(tx, freshAcks, now) as { ackLatencySeconds?: number[] } | undefined : undefined;
    const latest = freshTelemetry.length ? await sink.applyTelemetryLatest(tx, freshTelemetry, now, judged) as { implausible?: Implausible[] } | undefined : undefined;
    if (statusList.length) await sink.applyStatus(tx, statusList, now);
    return {
      acksStored: freshAcks.length, acksDuplicate: ackList.length - freshAcks.length, acksOutOfWindow: acks.outOfWindow, statusesOutOfWindow: statuses.outOfWindow,
      telemetryStored: freshTelemetry.length, telemetryDuplicate: telemetryList.length - freshTelemetry.length,
      telemetryOutOfWindow: batch.telemetry.length - telemetry.length,
      statuses: statusList.length,
      fromRevoked,
      ackLatencySeconds: applied?.ackLatencySeconds ?? [],
      implausible: latest?.implausible ?? [],
    };
  });
}

/** The revoked devices among `ids` (for a sink that does not lock them). */
async function revokedAmong(tx: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await tx.query<{ id: string }>('SELECT id FROM devices WHERE id = ANY($1::text[]) AND revoked_at IS NOT NULL', [[...new Set(ids)]]);
  return new Set(rows.map((r) => r.id));
}

type Kind = 'ack' | 'telemetry' | 'status';
type Item = { kind: 'ack'; m: AckMessage } | { kind: 'telemetry'; m: TelemetryMessage } | { kind: 'status'; m: StatusMessage };

/** A message the database refused for its content (storeIsolating): never stored, never retried. */
export interface RefusedMessage { kind: Kind; deviceId: string; seq: number | undefined; code: string; err: string }

const sqlState = (err: unknown): string => {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code } = e as { code?: unknown };
    if (typeof code === 'string') return code;
  }
  return '';
};

/**
 * Stores a batch with `store` (storeBatch) and, when the database refuses it for a message's content (db.ts
 * refusedForContent: SQLSTATE class 22 — a number or a datetime out of range — or 23, an integrity constraint),
 * bisects it until each refused message stands alone: every other message is stored (the parts in the batch's order,
 * each in its own transaction), the refused ones are returned, to be dropped (the same data is refused again, so a
 * retry would block every message behind it for good). Any other failure (the database unavailable, a timeout) rejects
 * as storeBatch does, and the caller retries the whole batch: parts stored before are then dropped as already stored
 * (exactly once per (device, seq)). One storeBatch call when nothing is refused.
 */
export async function storeIsolating(batch: IngestBatch, store: (b: IngestBatch) => Promise<StoredBatch>): Promise<StoredBatch & { refused: RefusedMessage[] }> {
  const total: StoredBatch & { refused: RefusedMessage[] } = {
    acksStored: 0, acksDuplicate: 0, telemetryStored: 0, telemetryDuplicate: 0, telemetryOutOfWindow: 0, acksOutOfWindow: 0, statusesOutOfWindow: 0, statuses: 0, fromRevoked: 0,
    ackLatencySeconds: [], implausible: [], refused: [],
  };
  const batchOf = (items: Item[]): IngestBatch => ({
    acks: items.flatMap((i) => (i.kind === 'ack' ? [i.m] : [])),
    telemetry: items.flatMap((i) => (i.kind === 'telemetry' ? [i.m] : [])),
    statuses: items.flatMap((i) => (i.kind === 'status' ? [i.m] : [])),
  });
  const attempt = async (items: Item[], b: IngestBatch): Promise<void> => {
    try {
      const { ackLatencySeconds, implausible, ...r } = await store(b);
      for (const k of Object.keys(r) as Array<keyof IngestResult>) total[k] += r[k];
      total.ackLatencySeconds.push(...ackLatencySeconds);
      total.implausible.push(...implausible);
    } catch (err) {
      if (!refusedForContent(err)) throw err;
      if (items.length <= 1) {
        const i = items[0];
        if (i) total.refused.push({ kind: i.kind, deviceId: i.m.deviceId, seq: 'seq' in i.m ? i.m.seq : undefined, code: sqlState(err), err: (err as Error).message });
        return;
      }
      const half = Math.ceil(items.length / 2);
      for (const part of [items.slice(0, half), items.slice(half)]) await attempt(part, batchOf(part));
    }
  };
  const items: Item[] = [
    ...batch.acks.map((m) => ({ kind: 'ack' as const, m })), ...batch.telemetry.map((m) => ({ kind: 'telemetry' as const, m })),
    ...batch.statuses.map((m) => ({ kind: 'status' as const, m })),
  ];
  await attempt(items, batch);
  return total;
}

/**
 * The stores of the HTTP fallback (POST /api/v1/devices/{id}/acks and /telemetry, fleet-core's FleetDeps ackSink
 * and telemetrySink): the same execution log and telemetry series as the gateway, exactly once per (device, seq),
 * telemetry outside the accepted window left out. `judged`: the plausibility verdicts the route decided for these
 * readings (ledger.ts applyTelemetryLatest, just before), stored with them.
 */
export function httpFallbackSinks(db: Db, now: () => Date = () => new Date()) {
  return {
    ackSink: async (all: AckMessage[]) => { const acks = splitByWindow(all, now().getTime()).inWindow; if (acks.length) await db.transaction((tx) => storeAcks(tx, acks)); },
    telemetrySink: async (telemetry: TelemetryMessage[], judged: readonly Implausible[] = []) => {
      const { inWindow } = splitByWindow(telemetry, now().getTime());
      if (inWindow.length) await db.transaction((tx) => storeTelemetry(tx, inWindow, judged));
    },
  };
}

/** The acks of `acks` stored now (first copy of each (device, seq)), in the batch's order. */
export async function storeAcks(tx: Db, acks: AckMessage[]): Promise<AckMessage[]> {
  // one staging table per connection, emptied at every commit: no catalog churn per batch
  await tx.query(`CREATE TEMP TABLE IF NOT EXISTS device_ack_stage (device_id text, seq bigint, version integer, state text,
    at timestamptz, reason text, interval_index integer) ON COMMIT DELETE ROWS`);
  await tx.query('TRUNCATE device_ack_stage');
  await tx.copyInto('device_ack_stage', ACK_COLUMNS, acks.map((a) => [a.deviceId, a.seq, a.version, a.state, a.at, a.reason ?? null, a.intervalIndex ?? null]));
  const rows = await tx.query<{ device_id: string; seq: string | number }>(
    `INSERT INTO device_acks (device_id, seq, version, state, at, reason, interval_index)
     SELECT DISTINCT ON (device_id, seq) device_id, seq, version, state, at, reason, interval_index FROM device_ack_stage
     ORDER BY device_id, seq, ctid -- the first copy in the batch (one COPY into the emptied stage: ctid follows the batch), as pickStored returns
     ON CONFLICT (device_id, seq) DO NOTHING
     RETURNING device_id, seq`);
  return pickStored(acks, rows.map((r) => key(r.device_id, Number(r.seq))), (m) => key(m.deviceId, m.seq));
}

/**
 * The telemetry of `telemetry` stored now (first copy of each (device, at, seq)), in the batch's order. `judged`: the
 * implausible ones among them (telemetry-check.ts splitPlausible), stored with the rule they break (NULL = plausible).
 */
export async function storeTelemetry(tx: Db, telemetry: TelemetryMessage[], judged: readonly Implausible[] = []): Promise<TelemetryMessage[]> {
  let min = Infinity;
  let max = -Infinity;
  for (const t of telemetry) { const at = Date.parse(t.at); if (at < min) min = at; if (at > max) max = at; }
  await tx.query('SELECT ensure_device_telemetry_partitions($1, $2)', [new Date(min), new Date(max)]);
  await tx.query(`CREATE TEMP TABLE IF NOT EXISTS device_telemetry_stage (device_id text, at timestamptz, seq bigint, soc_pct real,
    power_kw real, schedule_version integer, mode text, implausible text) ON COMMIT DELETE ROWS`);
  await tx.query('TRUNCATE device_telemetry_stage');
  // soc_pct and power_kw are `real` (float4): the value rounded to it here, so a reading below its range (1e-50) is
  // stored as the 0 PostgreSQL's float4 cannot tell it from, never refused as an underflow (SQLSTATE 22003)
  const ruleOf: (t: TelemetryMessage) => ImplausibleRule | null = verdicts(judged);
  await tx.copyInto('device_telemetry_stage', TELEMETRY_COLUMNS, telemetry.map((t) => [t.deviceId, t.at, t.seq, Math.fround(t.socPct), Math.fround(t.powerKw), t.scheduleVersion, t.mode, ruleOf(t)]));
  // `at` comes back as epoch milliseconds (text: exact for any timestamptz), the unit the messages' `at` is keyed in
  const rows = await tx.query<{ device_id: string; seq: string | number; at_ms: string }>(
    `INSERT INTO device_telemetry (device_id, at, seq, soc_pct, power_kw, schedule_version, mode, implausible)
     SELECT DISTINCT ON (device_id, at, seq) device_id, at, seq, soc_pct, power_kw, schedule_version, mode, implausible FROM device_telemetry_stage
     ORDER BY device_id, at, seq, ctid -- the first copy in the batch, as above
     ON CONFLICT (device_id, at, seq) DO NOTHING
     RETURNING device_id, seq, floor(extract(epoch FROM at) * 1000)::bigint::text AS at_ms`);
  // keyed as the table is unique: (device, at, seq). A device reset reuses its seqs, so (device, seq) alone took a
  // redelivered old reading for the new one stored beside it (and let the ledger apply the old one)
  return pickStored(telemetry, rows.map((r) => key(r.device_id, Number(r.seq), Number(r.at_ms))), (m) => key(m.deviceId, m.seq, Math.floor(Date.parse(m.at))));
}

/**
 * The messages whose key is among the stored rows' keys, the first copy in the batch of each, in the batch's order.
 * `keys` and `keyOf` must follow the table's unique key (the conflict target): device_acks (device, seq),
 * device_telemetry (device, at, seq). A multiset: two stored rows with one key (timestamps equal to the
 * millisecond, different below it) let two messages through.
 */
function pickStored<T>(messages: T[], keys: string[], keyOf: (m: T) => string): T[] {
  if (keys.length === messages.length) return messages;
  const stored = new Map<string, number>();
  for (const k of keys) stored.set(k, (stored.get(k) ?? 0) + 1);
  const out: T[] = [];
  for (const m of messages) {
    const k = keyOf(m);
    const n = stored.get(k) ?? 0;
    if (n > 0) { out.push(m); stored.set(k, n - 1); } // the first copy in the batch, once
  }
  return out;
}
