import type { Db } from '../platform/db.ts';

/**
 * A balancing authority of the registry (migrations/0016_ba_registry.sql, provenance in docs/ba-registry.md).
 * `timeZone` is EIA-930's *reporting* zone, the zone of every BA-local day; `geographicTimeZone` is
 * where the BA lies (they differ for EPE, PNM, WACM, IPCO and LGEE). Dates are `YYYY-MM-DD`, BA-local,
 * inclusive: `reportingSince` is the first day of the BA's EIA-930 data where it began after EIA-930 did
 * (null: reporting since July 2015), `retiredOn` EIA's
 * retirement date (null: still reporting).
 */
export interface BalancingAuthority {
  code: string;
  name: string;
  timeZone: string;
  geographicTimeZone: string;
  region: string;
  interconnection: string;
  generationOnly: boolean;
  active: boolean;
  reportingSince: string | null;
  retiredOn: string | null;
}

// a retirement date that has passed retires the BA even before a migration says so
const columns = `code, name, time_zone AS "timeZone", geographic_time_zone AS "geographicTimeZone", region, interconnection,
  generation_only AS "generationOnly", (active AND (retired_on IS NULL OR retired_on >= current_date)) AS active,
  to_char(reporting_since, 'YYYY-MM-DD') AS "reportingSince", to_char(retired_on, 'YYYY-MM-DD') AS "retiredOn"`;

/** Active BAs (or every BA with `includeRetired`), by code. */
export function listBas(db: Db, opts: { includeRetired?: boolean } = {}): Promise<BalancingAuthority[]> {
  return db.query<BalancingAuthority>(
    `SELECT ${columns} FROM balancing_authorities ${opts.includeRetired ? '' : 'WHERE active AND (retired_on IS NULL OR retired_on >= current_date)'} ORDER BY code`);
}

export async function getBa(db: Db, code: string): Promise<BalancingAuthority | undefined> {
  return (await db.query<BalancingAuthority>(`SELECT ${columns} FROM balancing_authorities WHERE code = $1`, [code]))[0];
}

/** BAs by code (retired ones included); unknown codes are left out. */
export function getBas(db: Db, codes: string[]): Promise<BalancingAuthority[]> {
  return db.query<BalancingAuthority>(`SELECT ${columns} FROM balancing_authorities WHERE code = ANY ($1::text[]) ORDER BY code`, [codes]);
}
