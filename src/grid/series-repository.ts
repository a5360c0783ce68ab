import type { Db } from '../platform/db.ts';

export interface Series {
  id: number; key: string; baCode: string; type: string; subtype: string; units: string;
  eiaKey: string | null; source: string; active: boolean;
}

const columns = `id, key, ba_code AS "baCode", type, subtype, units, eia_key AS "eiaKey", source, active`;

export function listSeries(db: Db, filter: { ba?: string | undefined; type?: string | undefined }): Promise<Series[]> {
  return db.query<Series>(
    `SELECT ${columns} FROM series WHERE ($1::text IS NULL OR ba_code = $1) AND ($2::text IS NULL OR type = $2) ORDER BY key`,
    [filter.ba ?? null, filter.type ?? null]);
}

export async function getSeriesByKey(db: Db, key: string): Promise<Series | undefined> {
  return (await db.query<Series>(`SELECT ${columns} FROM series WHERE key = $1`, [key]))[0];
}

/** Readable series key: CISO.demand, CISO.fuel.SUN, CISO.interchange.BANC. */
export function seriesKey(ba: string, type: string, subtype: string): string {
  const short = type === 'generation_by_fuel' ? 'fuel' : type === 'ba_interchange' ? 'interchange' : type;
  return subtype ? `${ba}.${short}.${subtype}` : `${ba}.${short}`;
}

/** Returns the series id, creating the series on first sight. */
export async function ensureSeries(db: Db, s: { baCode: string; type: string; subtype: string; units?: string; eiaKey?: string | null; source?: string }): Promise<number> {
  const key = seriesKey(s.baCode, s.type, s.subtype);
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO series (ba_code, type, subtype, units, eia_key, key, source) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (ba_code, type, subtype) DO UPDATE SET active = true RETURNING id`,
    [s.baCode, s.type, s.subtype, s.units ?? 'MWh', s.eiaKey ?? null, key, s.source ?? 'eia']);
  return row!.id;
}
