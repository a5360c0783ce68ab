import type { Db } from '../platform/db.ts';
import { HOUR_MS } from '../grid/time.ts';

export type SpanSource = 'eia' | 'simulated';

/**
 * The first hour (start, UTC) the store is meant to hold for `source`. The first start that fills the store
 * records it (`historyDays` before its newest complete hour) and every later start reads it back, so that a
 * restart after a crash knows what the first fill meant to cover: BA-routes with nothing stored are read from
 * here (planIncremental) and gap detection reaches back to here (findGaps). Concurrent first starts agree:
 * the first insert wins and both read it.
 */
export function intendedStart(db: Db, source: SpanSource, lastHour: Date, historyDays: number): Promise<Date> {
  return recordStart(db, source, new Date(lastHour.getTime() - historyDays * 24 * HOUR_MS));
}

/** Records `proposed` (floored to its hour) as the intended start of `source` unless one is recorded; returns the recorded one. */
export async function recordStart(db: Db, source: SpanSource, proposed: Date): Promise<Date> {
  proposed = new Date(Math.floor(proposed.getTime() / HOUR_MS) * HOUR_MS);
  await db.query('INSERT INTO store_span (source, intended_from) VALUES ($1, $2) ON CONFLICT (source) DO NOTHING', [source, proposed]);
  const [r] = await db.query<{ intended_from: Date | string }>('SELECT intended_from FROM store_span WHERE source = $1', [source]);
  return new Date(r!.intended_from);
}

/** The recorded intended start of `source`, if a start has recorded one. */
export async function recordedStart(db: Db, source: SpanSource): Promise<Date | undefined> {
  const [r] = await db.query<{ intended_from: Date | string }>('SELECT intended_from FROM store_span WHERE source = $1', [source]);
  return r ? new Date(r.intended_from) : undefined;
}
