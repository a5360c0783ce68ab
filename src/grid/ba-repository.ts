import type { Db } from '../platform/db.ts';

export interface BalancingAuthority {
  code: string;
  name: string;
  timeZone: string;
  region: string;
  interconnection: string;
  generationOnly: boolean;
  active: boolean;
  retiredOn: string | null;
}

const columns = `code, name, time_zone AS "timeZone", region, interconnection,
  generation_only AS "generationOnly", active, to_char(retired_on, 'YYYY-MM-DD') AS "retiredOn"`;

export function listBas(db: Db, opts: { includeRetired?: boolean } = {}): Promise<BalancingAuthority[]> {
  return db.query<BalancingAuthority>(
    `SELECT ${columns} FROM balancing_authorities ${opts.includeRetired ? '' : 'WHERE active'} ORDER BY code`);
}

export async function getBa(db: Db, code: string): Promise<BalancingAuthority | undefined> {
  return (await db.query<BalancingAuthority>(`SELECT ${columns} FROM balancing_authorities WHERE code = $1`, [code]))[0];
}
