const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const fmtInt = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : INT.format(Math.round(v));

export const fmtMw = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${fmtInt(v)} MW`);

export const fmtPct = (share: number | null | undefined, digits = 0): string =>
  share === null || share === undefined || !Number.isFinite(share) ? '—' : `${(share * 100).toFixed(digits)} %`;

const sign = (rounded: number) => (rounded > 0 ? '+' : rounded < 0 ? '−' : '±');

/** "+1,234", "−56", "±0" (a value that rounds to zero gets no direction). */
export const fmtSigned = (v: number | null | undefined, unit = ''): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const r = Math.round(v);
  return `${sign(r)}${INT.format(Math.abs(r))}${unit}`;
};

/** A signed percentage with one decimal: "+3.4 %", "±0.0 %". */
export const fmtSignedPct = (pct: number): string => {
  const r = Math.round(pct * 10) / 10;
  return `${sign(r)}${Math.abs(r).toFixed(1)} %`;
};

/** Rows → CSV text: the server's spreadsheet-safe writer (RFC 4180 quoting, formula-like text neutralised). */
export { toCsv } from '../../../platform/csv.ts';

export const FUEL_NAMES: Record<string, string> = {
  COL: 'Coal', NG: 'Natural gas', OIL: 'Oil', NUC: 'Nuclear', WAT: 'Hydro', SUN: 'Solar', WND: 'Wind', GEO: 'Geothermal',
  BIO: 'Biomass', OTH: 'Other', UNK: 'Unknown', BAT: 'Battery storage', PS: 'Pumped storage', SNB: 'Solar with battery',
  WNB: 'Wind with battery', OES: 'Other storage', UES: 'Unknown storage',
};

/** Okabe–Ito based fuel colours (distinguishable with colour-vision deficiencies). */
export const FUEL_COLOURS: Record<string, string> = {
  COL: '#3b3b3b', NG: '#e69f00', OIL: '#8c564b', NUC: '#cc79a7', WAT: '#0072b2', SUN: '#f0e442', WND: '#56b4e9',
  GEO: '#d55e00', BIO: '#009e73', OTH: '#999999', BAT: '#7f3c8d', PS: '#11a579',
};
export const fuelColour = (code: string): string => FUEL_COLOURS[code] ?? '#bbbbbb';
export const fuelName = (code: string): string => FUEL_NAMES[code] ?? code;
