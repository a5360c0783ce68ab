import { z } from 'zod';
import { zonedInstant } from '../platform/instant.ts';

/**
 * The objects of the OpenADR 3.0.1 definition (grid-coordination/openadr3-specification, 3.0.1/openadr3.yaml,
 * components/schemas), as zod schemas: the same property names, required lists, lengths, patterns and enums.
 * VTN-provisioned properties (id, createdDateTime, modificationDateTime, objectType, and a resource's venID)
 * may be sent by a client and are ignored on write; the VTN sets them.
 */
export const OPENADR_VERSION = '3.0.1';
/** Where the VTN is mounted (the definition's server URL ends /openadr3/3.0.1; GridPulse mounts it here). */
export const OPENADR_PREFIX = `/openadr/${OPENADR_VERSION}`;

export const objectID = z.string().min(1).max(128).regex(/^[a-zA-Z0-9_-]*$/, 'URL safe: letters, digits, _ and -');
/** Sane bounds GridPulse puts on the definition's datetimes: years 1970 to 2200 (the store's timestamptz holds them all). */
export const DATETIME_YEARS = { min: 1970, max: 2200 } as const;
/** The shared instant (platform/instant.ts zonedInstant: RFC 3339 with a zone, at most 35 characters) with these years. */
export const dateTime = zonedInstant({ from: Date.UTC(DATETIME_YEARS.min, 0, 1), to: Date.UTC(DATETIME_YEARS.max + 1, 0, 1), text: `from ${DATETIME_YEARS.min} to ${DATETIME_YEARS.max}` })
  .describe(`datetime in ISO 8601 format, e.g. 2023-06-15T09:30:00Z (years ${DATETIME_YEARS.min}–${DATETIME_YEARS.max})`);
/** The definition's duration pattern (ISO 8601), e.g. PT1H. */
export const DURATION = /^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
/** The longest duration GridPulse accepts: 10 years (a year counted 366 days, a month 31). */
export const MAX_DURATION_S = 10 * 366 * 86_400;
/** A duration's length in seconds, its sign kept (a year 366 days, a month 31: an upper bound); NaN when malformed. */
export function durationSeconds(iso: string): number {
  const m = DURATION.exec(iso);
  if (!m) return NaN;
  const n = (i: number) => Number(m[i] ?? 0);
  const s = n(2) * 366 * 86_400 + n(3) * 31 * 86_400 + n(4) * (m[5] === 'W' ? 7 : 1) * 86_400 + n(6) * 3600 + n(7) * 60 + n(8);
  return m[1] === '-' ? -s : s;
}
const durationText = z.string().regex(DURATION, 'an ISO 8601 duration, e.g. PT1H')
  .refine((v) => !(Math.abs(durationSeconds(v)) > MAX_DURATION_S), 'a duration of at most 10 years');
/** A duration (e.g. a time zone offset) that may be negative. */
export const signedDuration = durationText.describe('duration in ISO 8601 format, e.g. -PT5H; at most 10 years');
/** An interval's or randomization's duration: not negative (PT0S is the definition's "instantaneous or infinity"). */
export const duration = durationText.refine((v) => !v.startsWith('-'), 'a duration that is not negative')
  .describe('duration in ISO 8601 format, e.g. PT1H (default PT0S); not negative, at most 10 years');

export const OBJECT_TYPES = ['PROGRAM', 'EVENT', 'REPORT', 'SUBSCRIPTION', 'VEN', 'RESOURCE'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];
export const objectTypes = z.enum(OBJECT_TYPES);

export const point = z.object({ x: z.number(), y: z.number() });
export const valuesMap = z.object({
  type: z.string().min(1).max(128).describe('Enumerated or private string signifying the nature of values, e.g. PRICE'),
  values: z.array(z.union([z.number(), z.string(), z.boolean(), point])).describe('A list of data points, most often one value such as a price'),
});
export type ValuesMap = z.infer<typeof valuesMap>;
export const intervalPeriod = z.object({ start: dateTime, duration: duration.optional(), randomizeStart: duration.optional() });
export type IntervalPeriod = z.infer<typeof intervalPeriod>;

/**
 * Sane bounds on the values of the payload types the optimizer reads (in the descriptor's units; see
 * OPTIMIZER_PAYLOAD_TYPES): each value must be a finite number in [min, max]. Any other numeric value must be
 * finite and within ±1e15.
 */
export const PAYLOAD_BOUNDS: Readonly<Record<string, { min: number; max: number }>> = {
  PRICE: { min: -100_000, max: 100_000 }, EXPORT_PRICE: { min: -100_000, max: 100_000 },
  GHG: { min: 0, max: 100_000 }, DISPATCH_SETPOINT: { min: -1_000_000, max: 1_000_000 },
  IMPORT_CAPACITY_LIMIT: { min: 0, max: 1_000_000 }, EXPORT_CAPACITY_LIMIT: { min: 0, max: 1_000_000 },
};
const ANY_NUMBER_BOUND = 1e15;

function checkPayloads(payloads: ValuesMap[], ctx: z.RefinementCtx): void {
  payloads.forEach((p, i) => {
    const bounds = PAYLOAD_BOUNDS[p.type];
    p.values.forEach((v, j) => {
      const path = ['payloads', i, 'values', j];
      if (bounds) {
        if (typeof v !== 'number' || !(v >= bounds.min && v <= bounds.max)) ctx.addIssue({ code: 'custom', path, message: `a ${p.type} value must be a number from ${bounds.min} to ${bounds.max}` });
      } else if (typeof v === 'number' && !(Math.abs(v) <= ANY_NUMBER_BOUND)) ctx.addIssue({ code: 'custom', path, message: `a number within ±${ANY_NUMBER_BOUND}` });
    });
  });
}
export const interval = z.object({
  id: z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1).describe('A client generated number assigned an interval object. Not a sequence number. Unique within its list; int32.'),
  intervalPeriod: intervalPeriod.optional(),
  payloads: z.array(valuesMap),
}).superRefine((iv, ctx) => checkPayloads(iv.payloads, ctx));

/** Interval ids unique within their list; a zero duration only where it is unambiguous (one interval follows it). */
function checkIntervals(period: IntervalPeriod | undefined, intervals: Interval[], ctx: z.RefinementCtx, at: Array<string | number>): void {
  const seen = new Map<number, number>();
  intervals.forEach((iv, k) => {
    const first = seen.get(iv.id);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: [...at, 'intervals', k, 'id'], message: `interval id ${iv.id} repeats intervals/${first}/id` });
    else seen.set(iv.id, k);
  });
  const following = intervals.filter((iv) => !iv.intervalPeriod).length;
  if (period?.duration !== undefined && durationSeconds(period.duration) === 0 && following > 1) {
    ctx.addIssue({ code: 'custom', path: [...at, 'intervalPeriod', 'duration'], message: `a zero duration would start all ${following} intervals at the same instant: give each interval's length` });
  }
}
export type Interval = z.infer<typeof interval>;
const nullable = <T extends z.ZodType>(t: T) => t.nullable().optional();
const targets = nullable(z.array(valuesMap));

export const eventPayloadDescriptor = z.object({
  objectType: z.literal('EVENT_PAYLOAD_DESCRIPTOR').optional(),
  payloadType: z.string().min(1).max(128),
  units: nullable(z.string()),
  currency: nullable(z.string()),
});
export const reportPayloadDescriptor = z.object({
  objectType: z.literal('REPORT_PAYLOAD_DESCRIPTOR').optional(),
  payloadType: z.string().min(1).max(128),
  readingType: nullable(z.string()),
  units: nullable(z.string()),
  accuracy: nullable(z.number()),
  confidence: nullable(z.number().int().min(0).max(100)),
});
export const reportDescriptor = z.object({
  payloadType: z.string().min(1).max(128), readingType: nullable(z.string()), units: nullable(z.string()), targets,
  aggregate: z.boolean().optional(), startInterval: z.number().int().optional(), numIntervals: z.number().int().optional(),
  historical: z.boolean().optional(), frequency: z.number().int().optional(), repeat: z.number().int().optional(),
});

/** What the VTN provisions on every object. */
const provisioned = { id: objectID.optional(), createdDateTime: dateTime.optional(), modificationDateTime: dateTime.optional() };

export const program = z.object({
  ...provisioned,
  objectType: z.literal('PROGRAM').optional(),
  programName: z.string().min(1).max(128),
  programLongName: nullable(z.string()),
  retailerName: nullable(z.string()),
  retailerLongName: nullable(z.string()),
  programType: nullable(z.string()),
  country: nullable(z.string()),
  principalSubdivision: nullable(z.string()),
  timeZoneOffset: signedDuration.optional(),
  intervalPeriod: intervalPeriod.optional(),
  programDescriptions: nullable(z.array(z.object({ URL: z.string() }))),
  bindingEvents: nullable(z.boolean()),
  localPrice: nullable(z.boolean()),
  payloadDescriptors: nullable(z.array(z.union([eventPayloadDescriptor, reportPayloadDescriptor]))),
  targets,
});

export const event = z.object({
  ...provisioned,
  objectType: z.literal('EVENT').optional(),
  programID: objectID,
  eventName: nullable(z.string()),
  priority: nullable(z.number().int().min(0).describe('A lower number is a higher priority')),
  targets,
  reportDescriptors: nullable(z.array(reportDescriptor)),
  payloadDescriptors: nullable(z.array(eventPayloadDescriptor)),
  intervalPeriod: intervalPeriod.optional(),
  intervals: z.array(interval),
}).superRefine((ev, ctx) => checkIntervals(ev.intervalPeriod, ev.intervals, ctx, []));
export type OpenadrEvent = z.infer<typeof event>;

export const report = z.object({
  ...provisioned,
  objectType: z.literal('REPORT').optional(),
  programID: objectID,
  eventID: objectID,
  clientName: z.string().min(1).max(128),
  reportName: nullable(z.string()),
  payloadDescriptors: nullable(z.array(reportPayloadDescriptor)),
  resources: z.array(z.object({
    resourceName: z.string().min(1).max(128).describe('AGGREGATED_REPORT: an aggregation of more than one resource\'s data'),
    intervalPeriod: intervalPeriod.optional(),
    intervals: z.array(interval),
  }).superRefine((r, ctx) => checkIntervals(r.intervalPeriod, r.intervals, ctx, []))),
});

export const subscription = z.object({
  ...provisioned,
  objectType: z.literal('SUBSCRIPTION').optional(),
  clientName: z.string().min(1).max(128),
  programID: objectID,
  objectOperations: z.array(z.object({
    objects: z.array(objectTypes),
    operations: z.array(z.enum(['READ', 'CREATE', 'UPDATE', 'DELETE'])),
    callbackUrl: z.string().max(2048).describe('User provided webhook URL'),
    bearerToken: nullable(z.string().max(4096)),
  })).min(1),
  targets,
});

export const resource = z.object({
  ...provisioned,
  objectType: z.literal('RESOURCE').optional(),
  resourceName: z.string().min(1).max(128),
  venID: objectID.optional(),
  attributes: nullable(z.array(valuesMap)),
  targets,
});

export const ven = z.object({
  ...provisioned,
  objectType: z.literal('VEN').optional(),
  venName: z.string().min(1).max(128),
  attributes: nullable(z.array(valuesMap)),
  targets,
  resources: nullable(z.array(resource)),
});

/** The definition's problem (Zalando problem schema), plus GridPulse's `field`. */
export const problem = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), field: z.string().optional() });

export const clientCredentialRequest = z.object({
  grant_type: z.string().describe('must be client_credentials'),
  client_id: z.string().min(1).max(4096),
  client_secret: z.string().min(1).max(4096),
  scope: z.string().max(4096).optional(),
});
export const clientCredentialResponse = z.object({
  access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number().int(), scope: z.string(),
});
export const authError = z.object({
  error: z.enum(['invalid_request', 'invalid_client', 'invalid_grant', 'invalid_scope', 'unauthorized_client', 'unsupported_grant_type']),
  error_description: z.string().optional(),
});

/**
 * Payload types of the OpenADR 3 definitions that the GridPulse optimizer reads (others are stored and served
 * as sent). PRICE and EXPORT_PRICE: currency per the descriptor's units (default USD per KWH); GHG: g/kWh;
 * DISPATCH_SETPOINT, IMPORT_CAPACITY_LIMIT, EXPORT_CAPACITY_LIMIT: kW (descriptor units KW, or W / MW).
 */
export const OPTIMIZER_PAYLOAD_TYPES = ['PRICE', 'EXPORT_PRICE', 'GHG', 'DISPATCH_SETPOINT', 'IMPORT_CAPACITY_LIMIT', 'EXPORT_CAPACITY_LIMIT'] as const;
