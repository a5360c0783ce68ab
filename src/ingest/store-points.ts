import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { ensureSeries } from '../grid/series-repository.ts';
import { upsertObservations, type ObservationInput, type Quality } from '../grid/observation-repository.ts';
import type { EiaPoint } from './eia-schema.ts';

const regionTypes: Record<string, string> = { D: 'demand', DF: 'forecast', NG: 'net_generation', TI: 'interchange' };

export interface StoreCounts { inserted: number; updated: number; rejected: number }

/** Maps points to series (created on first sight), flags quality, and upserts in one transaction. */
export class PointStore {
  private readonly ids = new Map<string, number>();
  private knownBas: Set<string> | undefined;
  private readonly db: Db;
  private readonly logger: Logger;
  private readonly source: string;

  constructor(db: Db, logger: Logger, source = 'eia') {
    this.db = db;
    this.logger = logger;
    this.source = source;
  }

  async store(points: EiaPoint[]): Promise<StoreCounts> {
    this.knownBas ??= new Set((await this.db.query<{ code: string }>('SELECT code FROM balancing_authorities')).map((r) => r.code));
    let rejected = 0;
    const rows: ObservationInput[] = [];
    const seen = new Set<string>();
    for (const p of points) {
      const type = p.route === 'region' ? regionTypes[p.code] : p.route === 'fuel' ? 'generation_by_fuel' : 'ba_interchange';
      const subtype = p.route === 'region' ? '' : p.code;
      if (!type || !this.knownBas.has(p.ba) || (p.route === 'interchange' && !this.knownBas.has(p.code))) {
        rejected++;
        this.logger.warn({ ba: p.ba, route: p.route, code: p.code }, 'rejected point: unknown BA or type');
        continue;
      }
      const id = await this.seriesId(p.ba, type, subtype, p);
      const dedupe = `${id}|${p.ts.getTime()}`;
      if (seen.has(dedupe)) continue;
      seen.add(dedupe);
      rows.push({ seriesId: id, ts: p.ts, value: p.value, quality: quality(type, p.value) });
    }
    const res = await this.db.transaction(async (tx) => {
      const counts = await upsertObservations(tx, rows);
      if (counts.inserted + counts.updated > 0) await refreshRollups(tx, rows);
      return counts;
    });
    return { ...res, rejected };
  }

  private async seriesId(ba: string, type: string, subtype: string, p: EiaPoint): Promise<number> {
    const k = `${ba}|${type}|${subtype}`;
    let id = this.ids.get(k);
    if (id === undefined) {
      const eiaKey = p.route === 'region' ? `EBA.${ba}-ALL.${p.code}.H` : p.route === 'fuel' ? `EBA.${ba}-ALL.NG.${p.code}.H` : `EBA.${ba}-${p.code}.ID.H`;
      id = await ensureSeries(this.db, { baCode: ba, type, subtype, eiaKey: this.source === 'eia' ? eiaKey : null, source: this.source });
      this.ids.set(k, id);
    }
    return id;
  }
}

async function refreshRollups(db: Db, rows: ObservationInput[]): Promise<void> {
  let min = Infinity;
  let max = -Infinity;
  const ids = new Set<number>();
  for (const r of rows) { ids.add(r.seriesId); min = Math.min(min, r.ts.getTime()); max = Math.max(max, r.ts.getTime()); }
  await db.query('SELECT refresh_daily_rollups($1::integer[], $2, $3)', [[...ids], new Date(min), new Date(max + 3_600_000)]);
}

/** Flags, never drops: null → missing; negative demand → anomalous. */
export function quality(type: string, value: number | null): Quality {
  if (value === null) return 'missing';
  if ((type === 'demand' || type === 'forecast') && value < 0) return 'anomalous';
  return 'good';
}
