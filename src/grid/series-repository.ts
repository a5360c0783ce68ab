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

/** series.id is a PostgreSQL integer. */
const MAX_SERIES_ID = 2_147_483_647;

/**
 * How a series is named wherever the API or CLI takes one: its numeric `id` or its readable `key`
 * (both listed by GET /api/v1/series). All digits is an id (no key is: keys start with a BA code);
 * an id past the integer column's range names no series.
 */
export type SeriesRef = { id: number } | { key: string } | { none: string };

export function parseSeriesRef(ref: string): SeriesRef {
  if (!/^\d+$/.test(ref)) return { key: ref };
  const id = Number(ref);
  return id <= MAX_SERIES_ID ? { id } : { none: ref };
}

/** The pattern a series reference must match (a key such as CISO.demand or CISO.fuel.SUN, or an id such as 12). */
export const SERIES_REF_PATTERN = /^[A-Za-z0-9_.-]{1,120}$/;
export const SERIES_REF_MESSAGE = 'a series key such as CISO.demand, or a numeric series id (both are listed by /api/v1/series)';

/** Series named by id or key (see parseSeriesRef), in key order; refs naming nothing are left out. */
export function getSeriesByRefs(db: Db, refs: readonly string[]): Promise<Series[]> {
  const parsed = refs.map(parseSeriesRef);
  const ids = parsed.flatMap((r) => ('id' in r ? [r.id] : []));
  const keys = parsed.flatMap((r) => ('key' in r ? [r.key] : []));
  return db.query<Series>(`SELECT ${columns} FROM series WHERE key = ANY ($1::text[]) OR id = ANY ($2::integer[]) ORDER BY key`, [keys, ids]);
}

/** One series named by id or key; undefined when the ref names none. */
export async function getSeriesByRef(db: Db, ref: string): Promise<Series | undefined> {
  return (await getSeriesByRefs(db, [ref]))[0];
}

/** True when `s` is the series `ref` names. */
export function seriesMatches(s: Pick<Series, 'id' | 'key'>, ref: string): boolean {
  const r = parseSeriesRef(ref);
  return 'id' in r ? r.id === s.id : 'key' in r && r.key === s.key;
}

/** Readable series key: CISO.demand, CISO.fuel.SUN, CISO.interchange.BANC. */
export function seriesKey(ba: string, type: string, subtype: string): string {
  const short = type === 'generation_by_fuel' ? 'fuel' : type === 'ba_interchange' ? 'interchange' : type;
  return subtype ? `${ba}.${short}.${subtype}` : `${ba}.${short}`;
}

export interface SeriesSpec { baCode: string; type: string; subtype: string; units?: string; eiaKey?: string | null; source?: string }

/** Returns the series id, creating the series on first sight. */
export async function ensureSeries(db: Db, s: SeriesSpec): Promise<number> {
  return (await ensureSeriesMany(db, [s]))[0]!;
}

/**
 * Ids of many series in two statements, creating the missing ones (and re-activating inactive ones);
 * ids come back in the order of `specs`. Writes nothing for series that exist and are active.
 */
export async function ensureSeriesMany(db: Db, specs: SeriesSpec[]): Promise<number[]> {
  if (specs.length === 0) return [];
  const keys = specs.map((s) => seriesKey(s.baCode, s.type, s.subtype));
  await db.query(
    `INSERT INTO series (ba_code, type, subtype, units, eia_key, key, source)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
     ON CONFLICT DO NOTHING`,
    [specs.map((s) => s.baCode), specs.map((s) => s.type), specs.map((s) => s.subtype), specs.map((s) => s.units ?? 'MWh'),
      specs.map((s) => s.eiaKey ?? null), keys, specs.map((s) => s.source ?? 'eia')]);
  const rows = await db.query<{ id: number; key: string }>(
    `UPDATE series SET active = true WHERE key = ANY($1::text[]) AND NOT active RETURNING id, key`, [keys]);
  rows.push(...await db.query<{ id: number; key: string }>(`SELECT id, key FROM series WHERE key = ANY($1::text[]) AND active`, [keys]));
  const byKey = new Map(rows.map((r) => [r.key, r.id]));
  return keys.map((k) => {
    const id = byKey.get(k);
    if (id === undefined) throw new Error(`series ${k} could not be created (its EIA key belongs to another series)`);
    return id;
  });
}
