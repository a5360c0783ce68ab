import { intensityColour } from './app/lib/scale.ts';

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Rough width of a string in 11 px Verdana-like text, enough to size a badge without a font engine. */
function textWidth(s: string): number {
  return Math.ceil([...s].reduce((w, c) => w + (/[MW]/.test(c) ? 10 : /[A-Z0-9]/.test(c) ? 7.5 : /[ il.,:]/.test(c) ? 3.5 : 6.5), 0)) + 10;
}

/**
 * A shields-style SVG badge "CISO | 212 g/kWh": left the BA, right the consumption intensity on the
 * site's colour scale (grey with "no data" when unknown, "stale" appended when the data is late,
 * "retired" when EIA retired the BA and its last value is all there will be).
 */
export function badgeSvg(ba: string, intensity: number | null, status: 'fresh' | 'late' | 'stale' | 'retired' | 'unknown'): string {
  const left = ba;
  const right = intensity === null ? (status === 'retired' ? 'retired' : 'no data') : `${Math.round(intensity)} g/kWh${status === 'stale' || status === 'retired' ? ` (${status})` : ''}`;
  const colour = intensityColour(intensity);
  const lw = textWidth(left);
  const rw = textWidth(right);
  const title = intensity === null ? `${ba}: no carbon intensity available` : `${ba}: ${Math.round(intensity)} gCO2eq/kWh consumed (${status})`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${lw + rw}" height="20" role="img" aria-label="${escapeXml(title)}">`
    + `<title>${escapeXml(title)}</title>`
    + `<rect width="${lw}" height="20" fill="#333"/><rect x="${lw}" width="${rw}" height="20" fill="${colour.background}"/>`
    + `<g font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">`
    + `<text x="${lw / 2}" y="14" fill="#fff">${escapeXml(left)}</text>`
    + `<text x="${lw + rw / 2}" y="14" fill="${colour.text}">${escapeXml(right)}</text></g></svg>`;
}

/** The parts of GET /bas/{code}/now a badge reads. */
export interface BadgeNow {
  intensity?: { consumption: number | null; production: number | null };
  latestConsumption?: { value: number | null } | null;
}

/**
 * The consumption-based intensity a badge shows: the newest hour's, or, while that hour waits for its
 * interchange, the newest hour that has it; never the production value under a "consumed" label.
 */
export function badgeIntensity(now: BadgeNow): number | null {
  return now.intensity?.consumption ?? now.latestConsumption?.value ?? null;
}
