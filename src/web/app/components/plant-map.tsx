import { EGRID_FUELS, egridFuelColour, egridFuelName, type PlantPoint, type UsMap } from '../lib/egrid-types.ts';

/** Radius (px) of a plant of `mw` MW: area proportional to capacity, at least 1.5 px so small plants stay visible. */
export const plantRadius = (mw: number | null) => Math.max(1.5, Math.sqrt(Math.max(0, mw ?? 0)) / 4);

/**
 * The US map with plants as points sized by nameplate capacity and coloured by fuel category. States and
 * point positions come from the API (drawn and projected on the server with d3-geo and us-atlas), so the
 * map renders without script and prints as it shows.
 */
export function PlantMap({ map, points, title, compact = false }: { map: UsMap; points: readonly PlantPoint[]; title: string; compact?: boolean }) {
  const drawn = points.filter((p) => p[6] !== null && p[7] !== null).sort((a, b) => (b[3] ?? 0) - (a[3] ?? 0));
  const fuels = [...new Set(drawn.map((p) => p[4] ?? 'OTHF'))].sort();
  return (
    <figure className={compact ? 'plant-map compact' : 'plant-map'}>
      <svg viewBox={`0 0 ${map.width} ${map.height}`} role="img" aria-label={`${title}: ${drawn.length} plants`} data-map="plants" data-points={drawn.length}>
        <g className="states">{map.states.map((s) => <path key={s.id} d={s.d}><title>{s.name}</title></path>)}</g>
        <g className="plants">
          {drawn.map((p) => (
            <circle key={p[0]} cx={p[6]!} cy={p[7]!} r={plantRadius(p[3])} fill={egridFuelColour(p[4])} data-orispl={p[0]}>
              <title>{`${p[5] ?? `Plant ${p[0]}`} (ORISPL ${p[0]}): ${egridFuelName(p[4])}, ${p[3] ?? '?'} MW`}</title>
            </circle>
          ))}
        </g>
      </svg>
      <figcaption>
        {title}. {drawn.length} plants{points.length > drawn.length ? ` (${points.length - drawn.length} outside the map or without coordinates)` : ''}; area ∝ nameplate MW.{' '}
        {fuels.map((f) => <span key={f} className="fuel-key"><span className="swatch" style={{ background: egridFuelColour(f) }} />{EGRID_FUELS[f]?.name ?? f}</span>)}
      </figcaption>
    </figure>
  );
}
