import type { Db } from '../../platform/db.ts';
import { ensureSeries } from '../../grid/series-repository.ts';
import { upsertObservations } from '../../grid/observation-repository.ts';
import { HOUR_MS } from '../shared/hourly.ts';

/** Test helper: stores consecutive hourly values (null = EIA null) of one series from `from`. */
export async function seedHours(db: Db, ba: string, type: string, subtype: string, from: Date, values: ReadonlyArray<number | null>, source = 'eia'): Promise<void> {
  const seriesId = await ensureSeries(db, { baCode: ba, type, subtype, source });
  await upsertObservations(db, values.map((value, i) => ({ seriesId, ts: new Date(from.getTime() + i * HOUR_MS), value, quality: 'good' as const })));
}
