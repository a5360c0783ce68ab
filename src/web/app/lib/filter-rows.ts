import type { NowRow } from './api-types.ts';

export const SORT_KEYS = ['ba', 'intensity', 'demand', 'renewable', 'lag'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
const SORTS: Record<SortKey, (r: NowRow) => number | string | null> = {
  ba: (r) => r.ba, intensity: (r) => r.intensity, demand: (r) => r.demandMw, renewable: (r) => r.renewableShare, lag: (r) => r.freshness?.lagMinutes ?? null,
};

/** The home table's search, region / interconnection filters and sort, from the URL (works without JS). */
export function filterRows(rows: NowRow[], p: URLSearchParams): NowRow[] {
  const q = (p.get('q') ?? '').trim().toLowerCase();
  const region = p.get('region') ?? '';
  const ic = p.get('interconnection') ?? '';
  const key = (p.get('sort') ?? 'ba') as SortKey;
  const by = Object.hasOwn(SORTS, key) ? SORTS[key] : SORTS.ba;
  const dir = p.get('dir') === 'desc' ? -1 : 1;
  const all = p.get('show') === 'all';
  return rows
    .filter((r) => (all || r.dataThrough !== null) && (!q || r.ba.toLowerCase().includes(q) || r.name.toLowerCase().includes(q)) && (!region || r.region === region) && (!ic || r.interconnection === ic))
    .sort((a, b) => {
      const x = by(a); const y = by(b);
      if (x === null) return y === null ? 0 : 1; // unknown values last, whatever the direction
      if (y === null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
}

