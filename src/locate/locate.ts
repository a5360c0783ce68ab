import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { geoBounds, geoContains } from 'd3-geo';
import { feature } from 'topojson-client';
import type { Feature, Geometry } from 'geojson';
import type { GeometryCollection, Topology } from 'topojson-specification';
import type { Basis, LocationTable } from './derive.ts';

/** The derived location table (scripts/derive-locations.ts writes it; docs/locations.md says how). */
export const LOCATION_TABLE_FILE = new URL('./locations.json.gz', import.meta.url).pathname;

let table: LocationTable | undefined;
function locations(): LocationTable {
  table ??= JSON.parse(gunzipSync(readFileSync(LOCATION_TABLE_FILE)).toString('utf8')) as LocationTable;
  return table;
}

/** Where a place is, and which balancing authorities serve it (likeliest first). */
export interface Located {
  kind: 'zip' | 'county' | 'state' | 'point';
  /** e.g. "94110, CA" or "Alameda County, CA" */
  label: string;
  state: string;
  zip?: string;
  county?: { fips: string; name: string };
  /** eGRID subregion (eGRID2023 acronym, e.g. CAMX), when known */
  subregion: string | null;
  /** the predominant electric utility (ZIP lookups) */
  utility?: string;
  bas: string[];
  /** what the BA list rests on: the utilities serving the place (EIA-861), its counties, or its eGRID subregion */
  basis: Basis;
}

export function locateZip(zip: string): Located | undefined {
  const row = locations().zips[zip];
  if (!row) return undefined;
  const [state, subregion, utility, bas, basis] = row;
  return { kind: 'zip', label: `${zip}, ${state}`, state, zip, subregion: subregion || null, utility, bas, basis };
}

export function locateCounty(fips: string): Located | undefined {
  const row = locations().counties[fips];
  if (!row) return undefined;
  const [name, state, bas, subregion] = row;
  return { kind: 'county', label: `${name}, ${state}`, state, county: { fips, name }, subregion: subregion || null, bas, basis: 'county' };
}

export function locateState(state: string): Located | undefined {
  const row = locations().states[state];
  if (!row) return undefined;
  return { kind: 'state', label: row[0], state, subregion: null, bas: row[1], basis: 'county' };
}

interface CountyShape { fips: string; feature: Feature<Geometry>; bounds: [[number, number], [number, number]] }
let shapes: CountyShape[] | undefined;
function countyShapes(): CountyShape[] {
  if (!shapes) {
    const require = createRequire(import.meta.url);
    const topo = JSON.parse(readFileSync(require.resolve('us-atlas/counties-10m.json'), 'utf8')) as Topology<{ counties: GeometryCollection }>;
    const fc = feature(topo, topo.objects.counties);
    shapes = fc.features.map((f) => ({ fips: String(f.id), feature: f, bounds: geoBounds(f) }));
  }
  return shapes;
}

/** The county containing a point (Census 2017 county shapes from us-atlas), then its BAs. */
export function locatePoint(lat: number, lon: number): Located | undefined {
  for (const s of countyShapes()) {
    const [[w, south], [e, north]] = s.bounds;
    if (lat < south || lat > north) continue;
    // bounds crossing the antimeridian (Aleutians) have w > e
    if (w <= e ? lon < w || lon > e : lon < w && lon > e) continue;
    if (!geoContains(s.feature, [lon, lat])) continue;
    const c = locateCounty(s.fips);
    return c ? { ...c, kind: 'point' } : undefined;
  }
  return undefined;
}

/** Every state in the table: [code, name]. */
export function stateList(): Array<[string, string]> {
  return Object.entries(locations().states).map(([code, [name]]) => [code, name]);
}
