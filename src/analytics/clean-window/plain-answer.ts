import { wallClock, localHourOf } from '../../grid/local-day.ts';
import { cleanWindow, type TimedPoint } from './clean-window.ts';
import { median } from '../../platform/stats.ts';

/**
 * "How clean is my power now, and when should I run the dishwasher?" answered in words first:
 * "Now: 341 g/kWh, dirtier than usual for this hour. Cleanest 3 h in the next 24 h: 11:00–14:00, 38 % less than now."
 *
 * - *Usual* is the median of the same BA-local clock hour over the previous `USUAL_DAYS` days of the same
 *   basis (a median, so one odd day does not move it); "about usual" within ±`USUAL_BAND` of it.
 * - *Cleanest* is the clean window (clean-window.ts, the Carbon Aware SDK's definition) of the job's length
 *   over the intensity forecast for the next `HORIZON_HOURS` hours, earliest of ties; its saving is against
 *   the newest measured hour.
 */
export const USUAL_DAYS = 14;
export const USUAL_BAND = 0.1;
export const HORIZON_HOURS = 24;
const HOUR_MS = 3_600_000;

export interface PlainAnswerInput {
  timeZone: string;
  /** the newest measured hour of the basis (its start) and its intensity, gCO2eq/kWh */
  now: { hour: Date; value: number } | null;
  /** measured hourly intensity of the same basis before `now` (at least the last USUAL_DAYS days) */
  history: ReadonlyArray<{ ts: Date; value: number | null }>;
  /** the intensity forecast (same basis), any span: only [now's hour + 1 h, + HORIZON_HOURS) is searched */
  forecast: readonly TimedPoint[];
  /** length of the job, minutes */
  durationMinutes: number;
}

export interface PlainAnswer {
  now: { hour: string; value: number } | null;
  usual: { value: number; days: number } | null;
  comparison: 'cleaner' | 'about usual' | 'dirtier' | null;
  cleanest: { start: string; end: string; avg: number; savingsPct: number | null } | null;
  sentence: string;
}

const clock = (t: number, timeZone: string) => {
  const w = wallClock(new Date(t), timeZone);
  return `${String(w.hour).padStart(2, '0')}:${String(w.minute).padStart(2, '0')}`;
};
const hoursText = (minutes: number) => (minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`);

export function plainAnswer(input: PlainAnswerInput): PlainAnswer {
  const { now, timeZone } = input;
  let usual: PlainAnswer['usual'] = null;
  let comparison: PlainAnswer['comparison'] = null;
  if (now) {
    const hourOfDay = localHourOf(now.hour, timeZone);
    const since = now.hour.getTime() - USUAL_DAYS * 24 * HOUR_MS;
    const same = input.history
      .filter((p) => p.value !== null && p.ts.getTime() >= since && p.ts.getTime() < now.hour.getTime() && localHourOf(p.ts, timeZone) === hourOfDay)
      .map((p) => p.value as number);
    // fewer than half the days: too little to call anything usual
    if (same.length >= USUAL_DAYS / 2) {
      usual = { value: median(same.sort((a, b) => a - b)), days: same.length };
      const ratio = now.value / usual.value;
      comparison = ratio > 1 + USUAL_BAND ? 'dirtier' : ratio < 1 - USUAL_BAND ? 'cleaner' : 'about usual';
    }
  }
  let cleanest: PlainAnswer['cleanest'] = null;
  const from = now ? now.hour.getTime() + HOUR_MS : NaN;
  if (now && input.forecast.length) {
    const r = cleanWindow(input.forecast, { durationMinutes: input.durationMinutes, from, to: from + HORIZON_HOURS * HOUR_MS, count: 1 });
    const best = r.optimal[0];
    if (best) {
      const savingsPct = now.value > 0 ? ((now.value - best.avg) / now.value) * 100 : null;
      cleanest = { start: new Date(best.start).toISOString(), end: new Date(best.end).toISOString(), avg: best.avg, savingsPct };
    }
  }
  const parts: string[] = [];
  if (!now) parts.push('No recent carbon intensity for this grid yet.');
  else {
    const v = Math.round(now.value);
    parts.push(comparison === null ? `Now: ${v} g/kWh.` : comparison === 'about usual' ? `Now: ${v} g/kWh, about usual for this hour.` : `Now: ${v} g/kWh, ${comparison} than usual for this hour.`);
  }
  if (cleanest) {
    const span = `${clock(Date.parse(cleanest.start), timeZone)}–${clock(Date.parse(cleanest.end), timeZone)}`;
    const s = cleanest.savingsPct;
    const vs = s === null ? '' : Math.round(s) > 0 ? `, ${Math.round(s)} % less than now` : Math.round(s) === 0 ? ', about the same as now' : ', no cleaner than now';
    parts.push(`Cleanest ${hoursText(input.durationMinutes)} in the next ${HORIZON_HOURS} h: ${span}${vs}.`);
  } else if (now) parts.push(`No forecast for the next ${HORIZON_HOURS} h yet.`);
  return { now: now ? { hour: now.hour.toISOString(), value: now.value } : null, usual, comparison, cleanest, sentence: parts.join(' ') };
}
