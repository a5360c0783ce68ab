/**
 * The one scoring of forecasts by lead time, shared by the backtest (`gridpulse forecast backtest`,
 * bench/backtest.ts) and the track record of the stored forecasts (`/api/v1/bas/{code}/forecast/accuracy`):
 * mean absolute percentage error per lead-time bucket, of the forecast and of seasonal naive on the same hours.
 */

/** A value a forecast can learn from or be scored on: finite and positive (MAPE divides by it). */
export const usable = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v) && v > 0;

/** Mean of absolute percentage errors given as fractions, in %; null with none. */
export const mapePct = (errors: readonly number[]): number | null => (errors.length ? (errors.reduce((s, x) => s + x, 0) / errors.length) * 100 : null);

/**
 * Hours back from a forecast hour `k` hours after the data end (0 = the next hour) to the same hour of the last
 * observed day: 24 for the first day ahead, 48 for the second, … The seasonal-naive reference of the backtest
 * and of the accuracy report, and the direct model's "same hour" feature.
 */
export const lastDayLag = (k: number): number => 24 * Math.ceil((k + 1) / 24);

/** Lead-time buckets, in hours after the forecast's data end (1 = the next hour). */
export const ACCURACY_LEADS: ReadonlyArray<{ lead: string; from: number; to: number }> = [
  { lead: '1-6 h', from: 1, to: 6 }, { lead: '7-24 h', from: 7, to: 24 }, { lead: '25-48 h', from: 25, to: 48 },
];

/** Index into ACCURACY_LEADS of a lead (hours), -1 outside them. */
export const leadBucket = (lead: number): number => ACCURACY_LEADS.findIndex((l) => lead >= l.from && lead <= l.to);

/** The two seasonal-naive references scored beside every forecast. */
export const NAIVE_METHODS = ['naiveDay', 'naiveWeek'] as const;
export type NaiveMethod = typeof NAIVE_METHODS[number];

/** Human names of the naive methods (also the names a served forecast hour carries when a naive method serves it). */
export const NAIVE_NAMES: Readonly<Record<NaiveMethod, string>> = {
  naiveDay: 'seasonal-naive-last-day',
  naiveWeek: 'seasonal-naive-last-week',
};

/**
 * Seasonal-naive forecasts of index `i` of `y` made with data through index `i − lead` (lead ≥ 1): the same hour
 * of the last observed day (lastDayLag) and the same hour a week earlier (168 h; for leads ≤ 168). Null when the
 * reference hour is not usable.
 */
export function naiveAt(y: ReadonlyArray<number | null | undefined>, i: number, lead: number): Record<NaiveMethod, number | null> {
  const day = y[i - lastDayLag(lead - 1)];
  const week = y[i - 168];
  return { naiveDay: usable(day) ? day : null, naiveWeek: usable(week) ? week : null };
}

export interface LeadCell<M extends string> { hours: number; mapePct: Record<M, number | null> }
export interface LeadScores<M extends string> { all: LeadCell<M>; byLead: Array<LeadCell<M> & { lead: string }> }

/**
 * Accumulates absolute percentage errors of several methods by lead bucket. A sample counts only when the actual
 * and every method's forecast are usable, so all methods are scored on the same hours; leads outside the
 * buckets are not scored.
 */
export class LeadScorer<M extends string> {
  private readonly methods: readonly M[];
  private readonly errors: Array<Record<string, number[]>>;

  constructor(methods: readonly M[]) {
    this.methods = methods;
    this.errors = ACCURACY_LEADS.map(() => Object.fromEntries(methods.map((m) => [m, [] as number[]])));
  }

  /** Adds one forecast hour; false when it was not scored (lead outside the buckets or a value missing). */
  add(lead: number, actual: number | null | undefined, forecasts: Readonly<Record<M, number | null | undefined>>): boolean {
    const b = leadBucket(lead);
    if (b < 0 || !usable(actual)) return false;
    if (!this.methods.every((m) => usable(forecasts[m]))) return false;
    for (const m of this.methods) this.errors[b]![m]!.push(Math.abs(forecasts[m]! - actual) / actual);
    return true;
  }

  result(): LeadScores<M> {
    const cell = (pick: (m: M) => number[]): LeadCell<M> => ({
      hours: pick(this.methods[0]!).length,
      mapePct: Object.fromEntries(this.methods.map((m) => [m, mapePct(pick(m))])) as Record<M, number | null>,
    });
    return {
      all: cell((m) => this.errors.flatMap((e) => e[m]!)),
      byLead: ACCURACY_LEADS.map((l, b) => ({ lead: l.lead, ...cell((m) => this.errors[b]![m]!) })),
    };
  }
}
