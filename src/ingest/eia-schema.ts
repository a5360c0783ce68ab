import { z } from 'zod';
import { parseInstant } from '../platform/instant.ts';
import { parseObservationValue } from '../grid/values.ts';

/** Values arrive as strings (API >= 2.1.6), numbers (older) or null; anything else is a malformed page. */
const value = z.union([z.string(), z.number(), z.null()]).transform((v, ctx) => {
  if (v === null) return null;
  const n = parseObservationValue(v);
  if (typeof n !== 'number') {
    ctx.addIssue({ code: 'custom', message: `${n.reason}: ${String(v)}` });
    return z.NEVER;
  }
  return n;
});

const period = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}$/, 'hourly UTC period YYYY-MM-DDTHH')
  .refine((p) => periodStart(p) !== undefined, 'an hour-ending UTC period on a real calendar date, 2000 to 2099');

export const regionRow = z.object({ period, respondent: z.string(), type: z.string(), value, 'value-units': z.string().optional() });
export const fuelRow = z.object({ period, respondent: z.string(), fueltype: z.string(), value, 'value-units': z.string().optional() });
export const interchangeRow = z.object({ period, fromba: z.string(), toba: z.string(), value, 'value-units': z.string().optional() });

export const envelope = z.object({
  response: z.object({
    total: z.union([z.string(), z.number()]).transform(Number).pipe(z.number().int().min(0)),
    data: z.array(z.unknown()),
  }),
  warnings: z.array(z.object({ warning: z.string().optional(), description: z.string().optional() })).optional(),
});

export type EiaRoute = 'region' | 'fuel' | 'interchange';

export const routePath: Record<EiaRoute, string> = {
  region: 'electricity/rto/region-data',
  fuel: 'electricity/rto/fuel-type-data',
  interchange: 'electricity/rto/interchange-data',
};

/** Every key column, so that paging is stable (EIA's default order is not). */
export const sortColumns: Record<EiaRoute, string[]> = {
  region: ['period', 'respondent', 'type'],
  fuel: ['period', 'respondent', 'fueltype'],
  interchange: ['period', 'fromba', 'toba'],
};

/** One normalised EIA value: `ts` is the START of the hour (period is hour-ending UTC). */
export interface EiaPoint {
  route: EiaRoute;
  ba: string;
  /** D/DF/NG/TI for region, the fuel code for fuel, the neighbour BA for interchange */
  code: string;
  ts: Date;
  value: number | null;
}

/**
 * EIA's `local-hourly` periods (`2024-09-01T00-04`: the hour ending at a local clock time, with
 * its UTC offset). GridPulse stores only the UTC `hourly` frequency, which carries the same values;
 * recorded local-hourly data is rejected with LOCAL_HOURLY_REASON rather than converted.
 */
export const LOCAL_HOURLY = /^\d{4}-\d{2}-\d{2}T\d{2}[+-]\d{2}(:?\d{2})?$/;
export const LOCAL_HOURLY_REASON = 'local-hourly periods are not supported';

/** The reason a recorded EIA row failed to parse, for rejection counts: local-hourly, or the field at fault. */
export function rowRejection(raw: unknown, err: unknown): string {
  const period = (raw as { period?: unknown } | null)?.period;
  if (typeof period === 'string' && LOCAL_HOURLY.test(period)) return LOCAL_HOURLY_REASON;
  const path = (err as { issues?: Array<{ path: PropertyKey[] }> }).issues?.[0]?.path.map(String).join('.');
  return path ? `invalid ${path}` : 'invalid row';
}

/** EIA's hour-ending `YYYY-MM-DDTHH` label → the UTC start of that hour; undefined for an impossible one (2022-02-30T05, T25, the year 0000). */
export function periodStart(p: string): Date | undefined {
  const end = parseInstant(`${p}:00:00Z`);
  return 'ms' in end ? new Date(end.ms - 3_600_000) : undefined;
}

/** periodStart of a period already checked (the row schemas refuse impossible ones). */
export function periodToStart(p: string): Date {
  const start = periodStart(p);
  if (!start) throw new Error(`impossible EIA period '${p}'`);
  return start;
}

/** The UTC start of an hour → the EIA `YYYY-MM-DDTHH` label of that hour (its end). */
export function startToPeriod(d: Date): string {
  return new Date(d.getTime() + 3_600_000).toISOString().slice(0, 13);
}

export function toPoint(route: EiaRoute, raw: unknown): EiaPoint {
  if (route === 'region') {
    const r = regionRow.parse(raw);
    return { route, ba: r.respondent, code: r.type, ts: periodToStart(r.period), value: r.value };
  }
  if (route === 'fuel') {
    const r = fuelRow.parse(raw);
    return { route, ba: r.respondent, code: r.fueltype, ts: periodToStart(r.period), value: r.value };
  }
  const r = interchangeRow.parse(raw);
  return { route, ba: r.fromba, code: r.toba, ts: periodToStart(r.period), value: r.value };
}
