import { intensityColour } from '../lib/scale.ts';

/** Whether a consumption-based value is null because the hour's BA-to-BA interchange is not published yet. */
export const waitsForInterchange = (flags: readonly string[] | undefined) => flags?.includes('interchange-missing') ?? false;

/**
 * A consumption-based intensity: the chip, or, when the hour's interchange is not published yet, says so
 * (never the production value in its place).
 */
export function ConsumptionChip({ value, flags, unit = true }: { value: number | null | undefined; flags: readonly string[] | undefined; unit?: boolean }) {
  if ((value === null || value === undefined) && waitsForInterchange(flags)) {
    return <span className="chip muted" title="EIA publishes BA-to-BA interchange later than generation; the consumption-based value follows when it lands">waiting for interchange</span>;
  }
  return <IntensityChip value={value} unit={unit} />;
}

/** The intensity number on its colour-scale swatch; the number is always there, the colour only helps. */
export function IntensityChip({ value, unit = true }: { value: number | null | undefined; unit?: boolean }) {
  const c = intensityColour(value);
  return (
    <span className="chip" style={{ background: c.background, color: c.text }}>
      {value === null || value === undefined ? 'n/a' : Math.round(value)}{unit && value !== null && value !== undefined ? <small> g/kWh</small> : null}
    </span>
  );
}
