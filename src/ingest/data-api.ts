import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { QUALITY, type ObservationInput } from '../grid/observation-repository.ts';
import { getBa } from '../grid/ba-repository.ts';
import { ensureSeries, getSeriesByKey, getSeriesByRef, parseSeriesRef, seriesKey, type Series } from '../grid/series-repository.ts';
import { addReason, commitObservations, CONFLICT_REASON, quality, reportConflicts, settleDuplicates } from './store-points.ts';
import { finishRun, startRun, type RunTotals } from './run-ledger.ts';
import { checkTouched } from './check-runner.ts';
import { ERA, ISO_DATETIME } from '../grid/time.ts';
import { MAX_ABS_VALUE, VALUE_RANGE_REASON } from '../grid/values.ts';
import { parseInstant } from '../platform/instant.ts';
import { CONTROL_CHARACTER_MESSAGE, noControlCharacters } from '../platform/input-guard.ts';
import { PRICE_UNITS } from '../fleet/prices/price-repository.ts';

/** Largest batch the data API takes in one request. */
export const MAX_BATCH_ROWS = 10_000;
/** Per-row errors listed in a response (the count is always complete). */
export const MAX_LISTED_ERRORS = 1_000;
/** Forecasts reach ahead; nothing else may be later than this. */
const MAX_FUTURE_MS = 14 * 86_400_000;

export const SERIES_TYPES = ['demand', 'forecast', 'net_generation', 'interchange', 'generation_by_fuel', 'ba_interchange', 'co2', 'price'] as const;

const hourStart = z.string()
  .refine((s) => ISO_DATETIME.test(s) && 'ms' in parseInstant(s), 'an ISO 8601 instant with its zone on a real date, such as 2025-08-01T17:00:00Z')
  .transform((s) => new Date((parseInstant(s) as { ms: number }).ms))
  .refine((d) => d.getTime() % 3_600_000 === 0, 'must be the start of an hour (UTC)')
  .refine((d) => d.getTime() >= ERA.from && d.getTime() <= Date.now() + MAX_FUTURE_MS, 'must be between 2000 and 14 days from now');

/** One row of a batch: a series by key, or by (ba, type, subtype); ts is the START of the hour. */
export const observationRow = z.object({
  series: z.string().min(1).max(120).refine(noControlCharacters, CONTROL_CHARACTER_MESSAGE).optional().describe('series key (CISO.demand) or numeric series id'),
  ba: z.string().regex(/^[A-Z0-9]{2,6}$/, 'an EIA BA code such as CISO').optional(),
  type: z.enum(SERIES_TYPES).optional(),
  subtype: z.string().regex(/^[A-Z0-9_]{0,12}$/, 'a fuel code or neighbour BA code (upper case), or empty').default(''),
  ts: hourStart,
  value: z.number().refine((v) => Math.abs(v) <= MAX_ABS_VALUE, VALUE_RANGE_REASON).nullable().describe(`MW (MWh in the hour; $/MWh for a price series), at most ±${MAX_ABS_VALUE} in magnitude; null when the source has no value`),
  quality: z.enum(QUALITY).default('good'),
}).superRefine((r, ctx) => {
  if (r.series !== undefined && (r.ba !== undefined || r.type !== undefined)) ctx.addIssue({ code: 'custom', path: ['series'], message: 'give series, or ba and type, not both' });
  else if (r.series === undefined && r.ba === undefined) ctx.addIssue({ code: 'custom', path: ['series'], message: 'give series, or ba and type' });
  else if (r.series === undefined && r.type === undefined) ctx.addIssue({ code: 'custom', path: ['type'], message: 'required with ba' });
});

export interface RowError { index: number; field: string; message: string }
export interface BatchResult { runId: number; received: number; accepted: number; inserted: number; updated: number; rejected: number; duplicates: number; conflicting: number; errors: RowError[] }

/** Resolves series for a batch, creating external series on first sight, one lookup per key. */
class SeriesResolver {
  private readonly cache = new Map<string, Series | string>();
  private readonly db: Db;
  constructor(db: Db) { this.db = db; }

  /** The series, or an error message for the `series`/`ba` field. */
  async resolve(r: z.infer<typeof observationRow>): Promise<Series | { field: string; message: string }> {
    const key = r.series ?? seriesKey(r.ba!, r.type!, r.subtype);
    let s = this.cache.get(key);
    if (s === undefined) {
      s = (await getSeriesByRef(this.db, key)) ?? (r.series === undefined ? await this.create(r) : `unknown series '${key}'`);
      this.cache.set(key, s);
    }
    if (typeof s === 'string') return { field: r.series === undefined ? 'ba' : 'series', message: s };
    if (s.source !== 'external') return { field: r.series === undefined ? 'type' : 'series', message: `series '${s.key}' is fed by ${s.source}; the data API writes external series only` };
    return s;
  }

  private async create(r: z.infer<typeof observationRow>): Promise<Series | string> {
    if (!(await getBa(this.db, r.ba!))) return `unknown balancing authority '${r.ba}'`;
    const units = r.type === 'co2' ? 'tCO2' : r.type === 'price' ? PRICE_UNITS : 'MWh';
    await ensureSeries(this.db, { baCode: r.ba!, type: r.type!, subtype: r.subtype, units, source: 'external' });
    return (await getSeriesByKey(this.db, seriesKey(r.ba!, r.type!, r.subtype)))!;
  }
}

type Candidate = ObservationInput & { index: number; series: Series };

/**
 * Validates every row, upserts the good ones in one transaction (idempotent, change event on
 * commit) and lists the bad ones by index, field and message. Rows repeating a series and hour
 * follow settleDuplicates: exact repeats are stored once (`duplicates`), rows that disagree are all
 * refused (`conflicting`, listed with field `value`) and recorded as a finding. Recorded in the run ledger.
 */
export async function ingestBatch(deps: { db: Db; logger: Logger }, rows: unknown[], caller: { keyId: string }): Promise<BatchResult> {
  const { db } = deps;
  const errors: RowError[] = [];
  const reasons: Record<string, number> = {};
  let rejected = 0;
  const reject = (e: RowError, reason: string) => { rejected++; addReason(reasons, reason); errors.push(e); };
  const resolver = new SeriesResolver(db);
  const candidates: Candidate[] = [];
  for (const [index, raw] of rows.entries()) {
    const parsed = observationRow.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.') || 'row';
      reject({ index, field, message: issue.message }, `invalid ${field}`);
      continue;
    }
    const r = parsed.data;
    const s = await resolver.resolve(r);
    if (!('id' in s)) { reject({ index, ...s }, `invalid ${s.field}`); continue; }
    const flagged = quality(s.type, r.value);
    candidates.push({ index, series: s, seriesId: s.id, ts: r.ts, value: r.value, quality: flagged === 'good' ? r.quality : flagged });
  }
  const settled = settleDuplicates(candidates);
  for (const c of settled.conflicts) {
    const values = c.indices.map((i, k) => `${c.values[k]!.value} (${c.values[k]!.quality}, row ${candidates[i]!.index})`).join(', ');
    for (const i of c.indices) {
      reject({ index: candidates[i]!.index, field: 'value', message: `conflicting values for ${candidates[i]!.series.key} at ${c.ts.toISOString()}: ${values}; every row of this series and hour is refused` }, CONFLICT_REASON);
    }
  }
  errors.sort((a, b) => a.index - b.index);
  const good = settled.unique;
  const runId = await startRun(db, 'api', 'external', { apiKey: caller.keyId, rows: rows.length });
  const logger = deps.logger.child({ runId });
  await reportConflicts(db, logger, runId, settled.conflicts.map((c) => ({ ...c, indices: c.indices.map((i) => candidates[i]!.index), ba: candidates[c.indices[0]!]!.series.baCode, seriesKey: candidates[c.indices[0]!]!.series.key })), 'data API batch');
  const { inserted, updated } = await commitObservations(db, good.map(({ seriesId, ts, value, quality: q }) => ({ seriesId, ts, value, quality: q })), 'external');
  const totals: RunTotals = { fetched: rows.length, inserted, updated, rejected, requests: 1, retries: 0, errors: [], duplicates: settled.duplicates, conflicting: settled.conflicting, reasons };
  if (good.length) {
    const times = good.map((g) => g.ts.getTime());
    await checkTouched({ db, logger }, totals, { bas: [...new Set(good.map((g) => g.series.baCode))], from: new Date(Math.min(...times)), to: new Date(Math.max(...times)), runId });
  }
  await finishRun(db, runId, totals);
  logger.info({ received: rows.length, accepted: good.length, inserted, updated, rejected, duplicates: settled.duplicates, conflicting: settled.conflicting }, 'data API batch');
  return { runId, received: rows.length, accepted: good.length, inserted, updated, rejected, duplicates: settled.duplicates, conflicting: settled.conflicting, errors: errors.slice(0, MAX_LISTED_ERRORS) };
}

export interface LatestValue { series: string; id: number; ba: string; type: string; subtype: string; units: string; source: string; ts: string | null; value: number | null; quality: string | null; ingestedAt: string | null }

/** The newest stored hour of each series (by key, or by numeric id); unknown ones are left out. */
export async function latestValues(db: Db, refs: string[]): Promise<LatestValue[]> {
  const parsed = refs.map(parseSeriesRef);
  const ids = parsed.flatMap((r) => ('id' in r ? [r.id] : []));
  const keys = parsed.flatMap((r) => ('key' in r ? [r.key] : []));
  const rows = await db.query<{ id: number; key: string; ba: string; type: string; subtype: string; units: string; source: string; ts: Date | string | null; value: number | null; quality: number | null; ingested_at: Date | string | null }>(
    `SELECT s.id, s.key, s.ba_code AS ba, s.type, s.subtype, s.units, s.source, o.ts, o.value, o.quality, o.ingested_at
     FROM series s LEFT JOIN LATERAL (
       SELECT ts, value, quality, ingested_at FROM observations WHERE series_id = s.id ORDER BY ts DESC LIMIT 1
     ) o ON true
     WHERE s.key = ANY ($1::text[]) OR s.id = ANY ($2::integer[]) ORDER BY s.key`, [keys, ids]);
  return rows.map((r) => ({
    series: r.key, id: r.id, ba: r.ba, type: r.type, subtype: r.subtype, units: r.units, source: r.source,
    ts: r.ts === null ? null : new Date(r.ts).toISOString(), value: r.value,
    quality: r.quality === null ? null : QUALITY[r.quality] ?? null, ingestedAt: r.ingested_at === null ? null : new Date(r.ingested_at).toISOString(),
  }));
}
