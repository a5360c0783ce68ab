import type { Db } from './db.ts';

/** The channel of the change-event contract (see notes/contract.md "Change events"). */
export const HOURS_CHANNEL = 'gridpulse_hours';

/** Postgres refuses NOTIFY payloads of 8000 bytes or more: stay well below. */
const MAX_PAYLOAD_BYTES = 7900;

export interface HoursChanged { bas: string[]; newest: string; source: string }

/** Splits one change event into payloads under the NOTIFY limit, each listing a share of the BAs. */
export function hoursPayloads(event: HoursChanged, maxBytes = MAX_PAYLOAD_BYTES): string[] {
  const out: string[] = [];
  let group: string[] = [];
  const encode = (bas: string[]) => JSON.stringify({ bas, newest: event.newest, source: event.source });
  for (const ba of event.bas) {
    if (group.length && Buffer.byteLength(encode([...group, ba])) > maxBytes) {
      out.push(encode(group));
      group = [];
    }
    group.push(ba);
  }
  if (group.length) out.push(encode(group));
  return out;
}

/**
 * Issues the change event inside the caller's transaction, so listeners hear of it only when
 * (and if) the rows commit.
 */
export async function notifyHoursChanged(tx: Db, event: HoursChanged): Promise<void> {
  for (const payload of hoursPayloads(event)) await tx.query('SELECT pg_notify($1, $2)', [HOURS_CHANNEL, payload]);
}

/**
 * The BAs whose observations this transaction inserted or changed among the given series and
 * hours, and the newest such hour. The upsert stamps `ingested_at = now()` (the transaction's
 * start time) on exactly the rows it writes, so unchanged re-deliveries are not reported.
 */
export async function changedInTransaction(tx: Db, seriesIds: number[], from: Date, to: Date): Promise<{ bas: string[]; newest: Date } | undefined> {
  const rows = await tx.query<{ ba: string; newest: Date | string }>(
    `SELECT s.ba_code AS ba, max(o.ts) AS newest FROM observations o JOIN series s ON s.id = o.series_id
     WHERE o.series_id = ANY ($1::integer[]) AND o.ts >= $2 AND o.ts <= $3 AND o.ingested_at = now()
     GROUP BY s.ba_code ORDER BY s.ba_code`, [seriesIds, from, to]);
  if (rows.length === 0) return undefined;
  const newest = Math.max(...rows.map((r) => new Date(r.newest).getTime()));
  return { bas: rows.map((r) => r.ba), newest: new Date(newest) };
}
