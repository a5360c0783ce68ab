/**
 * Carbon-intensity colour scale (gCO2eq/kWh): eight bins of 100 g on the viridis palette, reversed so that
 * clean is light yellow-green and dirty is dark purple. Viridis stays ordered for the common forms of colour
 * blindness and in greyscale; the number is always printed beside the colour, never replaced by it.
 */
export const INTENSITY_BINS = [100, 200, 300, 400, 500, 600, 700] as const;
const COLOURS = ['#fde725', '#a0da39', '#4ac16d', '#1fa187', '#277f8e', '#365c8d', '#46327e', '#440154'] as const;

export interface ScaleColour { background: string; text: string; bin: number }

export function intensityColour(value: number | null | undefined): ScaleColour {
  if (value === null || value === undefined || !Number.isFinite(value)) return { background: '#9e9e9e', text: '#111111', bin: -1 };
  const bin = INTENSITY_BINS.findIndex((edge) => value < edge);
  const i = bin === -1 ? COLOURS.length - 1 : bin;
  return { background: COLOURS[i]!, text: i <= 3 ? '#111111' : '#ffffff', bin: i };
}

/** Legend rows: label and colour of each bin, for the home page and the methodology page. */
export function intensityLegend(): Array<{ label: string; background: string; text: string }> {
  return COLOURS.map((background, i) => ({
    label: i === 0 ? `< ${INTENSITY_BINS[0]}` : i === COLOURS.length - 1 ? `≥ ${INTENSITY_BINS[i - 1]}` : `${INTENSITY_BINS[i - 1]}–${INTENSITY_BINS[i]}`,
    background, text: i <= 3 ? '#111111' : '#ffffff',
  }));
}

/** Okabe–Ito: eight colours that stay apart for the common colour-vision deficiencies. */
const OKABE_ITO = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#999999'] as const;

/**
 * `n` distinct line colours for one chart (interchange with every neighbour): Okabe–Ito while it lasts, and
 * past eight, hues spread evenly round the wheel with alternating lightness, so no two series share a colour.
 */
export function seriesColours(n: number): string[] {
  if (n <= OKABE_ITO.length) return OKABE_ITO.slice(0, n);
  return Array.from({ length: n }, (_, i) => `hsl(${Math.round((i * 360) / n)} ${i % 2 ? 70 : 55}% ${i % 2 ? 38 : 52}%)`);
}
