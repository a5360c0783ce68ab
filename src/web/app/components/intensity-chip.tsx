import { intensityColour } from '../lib/scale.ts';

/** The intensity number on its colour-scale swatch; the number is always there, the colour only helps. */
export function IntensityChip({ value, unit = true }: { value: number | null | undefined; unit?: boolean }) {
  const c = intensityColour(value);
  return (
    <span className="chip" style={{ background: c.background, color: c.text }}>
      {value === null || value === undefined ? 'n/a' : Math.round(value)}{unit && value !== null && value !== undefined ? <small> g/kWh</small> : null}
    </span>
  );
}
