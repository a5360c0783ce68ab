/**
 * What an hourly observation's value may be, on every write path (EIA pages, replayed files, the data API).
 * Values are MWh in the hour (≈ average MW) or tCO2: the lower 48 peak near 750 GW, so 10⁷ (10 TWh in one
 * hour) is far beyond any real value, and far inside every numeric type the store uses. A value beyond it is a
 * unit mistake or junk; refused with a reason, never stored (1e308 used to overflow PostgreSQL and fail the batch).
 */
export const MAX_ABS_VALUE = 1e7;
export const VALUE_RANGE_REASON = `value beyond ±${MAX_ABS_VALUE.toExponential(0)} (not a physical hourly value)`;
/** Plain decimal text as data files write numbers: no hex (0x10), no spaces, no Infinity. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A value from text or a JSON number: the number, or why it is not a value GridPulse stores. */
export function parseObservationValue(v: string | number): number | { reason: string } {
  if (typeof v === 'string' && !DECIMAL.test(v)) return { reason: 'value is not a decimal number' };
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return { reason: 'value is not a decimal number' };
  return Math.abs(n) > MAX_ABS_VALUE ? { reason: VALUE_RANGE_REASON } : n;
}
