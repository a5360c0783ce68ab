import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { geoAlbersUsa, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';

/**
 * The US map of the plant explorer and the reports, drawn on the server: state outlines from us-atlas
 * (Census cartographic boundaries, pre-projected to Albers USA at 975 × 610) as SVG paths, and plant points
 * projected with the same projection (d3-geo geoAlbersUsa, scale 1300, translate [487.5, 305]), so no map
 * tiles or internet are needed. Alaska and Hawaii are insets; a point outside the insets projects to null.
 */

export const MAP_WIDTH = 975;
export const MAP_HEIGHT = 610;
const projection = geoAlbersUsa().scale(1300).translate([MAP_WIDTH / 2, MAP_HEIGHT / 2]);

export interface StatePath { id: string; name: string; d: string }

let states: StatePath[] | undefined;

/** Every state's outline as an SVG path in map pixels, rounded to 0.1 px (read once). */
export function statePaths(): StatePath[] {
  if (states) return states;
  const require = createRequire(import.meta.url);
  const topo = JSON.parse(readFileSync(require.resolve('us-atlas/states-albers-10m.json'), 'utf8')) as Topology<{ states: GeometryCollection<{ name: string }> }>;
  const path = geoPath().digits(1);
  const fc = feature(topo, topo.objects.states);
  states = fc.features.map((f) => ({ id: String(f.id), name: f.properties?.name ?? '', d: path(f) ?? '' }));
  return states;
}

/** Map pixels [x, y] of a longitude/latitude, rounded to 0.1 px; null outside the projection (e.g. territories). */
export function projectPoint(lon: number, lat: number): [number, number] | null {
  const p = projection([lon, lat]);
  return p ? [Math.round(p[0] * 10) / 10, Math.round(p[1] * 10) / 10] : null;
}
