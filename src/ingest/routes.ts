import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { queryInt } from '../platform/query.ts';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { listRuns } from './run-ledger.ts';
import { isoInstant } from '../platform/instant.ts';
import { listFindings } from './check-runner.ts';
import { CHECK_NAMES } from './quality-checks.ts';
import { listBackfills, MAX_BACKFILL_ATTEMPTS } from './backfill.ts';
import { pipelineFreshness } from './pipeline-freshness.ts';
import { FILLING_LAG_HOURS, memoFillState } from './fill-state.ts';

const instant = isoInstant.transform((s) => new Date(s));

export function pipelineRoutes(app: FastifyInstance, db: Db): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/pipeline/runs', {
    config: { access: { public: true } },
    schema: {
      summary: 'Ingestion run ledger, newest first: rows fetched/inserted/updated/rejected, requests, retries, errors',
      description: '`rowsRejected` counts every row not stored for a fault of the row, and `rejections` says why ({reason: rows}). '
        + '`rowsConflicting` (part of `rowsRejected`): rows refused because one batch (an EIA read, a replay file, a data API request) gave their '
        + 'series and hour different values; each such hour is also a `conflicting_duplicate` finding at /api/v1/pipeline/checks. '
        + '`rowsDuplicate`: exact repeats within a batch, stored once and not rejected. A run whose EIA pages did not add up after re-reading '
        + 'has the day-route in `errors` (status partial or failed) and is never recorded as complete.',
      querystring: z.object({ limit: queryInt(1, 500).default(50) }),
    },
  }, async (req) => ({ data: await listRuns(db, req.query.limit) }));

  const state = memoFillState(db);
  r.get('/api/v1/pipeline/state', {
    config: { access: { public: true } },
    schema: {
      summary: 'Whether the store is still filling: empty, filling (first fill or catch-up) or ready',
      description: '`state`: `empty` before any data is stored; `filling` while an ingestion run works and the newest stored demand hour '
        + `lags now by more than ${FILLING_LAG_HOURS} h (the first fill of four weeks, or a catch-up after a long stop); \`ready\` otherwise. `
        + '`filling` is `state === "filling"`. `dataThrough`: the newest stored demand hour of any BA (hour start, UTC). `run`: the filling run '
        + '(ledger id, kind, start, rows stored so far). `progress`: share (0–1) of the run\'s range already stored, when the run names its range '
        + '(the simulated fill does), else null. The site shows a "filling…" notice on every page from this answer. Read at most every 5 s.',
    },
  }, async () => ({ data: await state() }));

  r.get('/api/v1/pipeline/freshness', {
    config: { access: { public: true } },
    schema: {
      summary: 'Newest stored hour per BA and series type, with its EIA route, lag and status',
      description: 'route: region (demand, forecast, net generation, total interchange), fuel (generation by fuel), interchange (BA-to-BA). '
        + 'lagMinutes = minutes from the END of the newest stored hour to now. expectedLagMinutes = EIA\'s usual publishing delay for the type '
        + '(demand 60, net generation/interchange/fuel 1440, BA-to-BA 2880, day-ahead forecast 0). status: fresh when lag ≤ expected + 90 min, '
        + 'late up to twice that, stale beyond; retired for a BA whose EIA-930 retirement day has ended (never stale). Per-series detail is at /api/v1/bas/{code}/freshness.',
    },
  }, async () => ({ data: await pipelineFreshness(db), filling: (await state()).filling }));

  r.get('/api/v1/pipeline/checks', {
    config: { access: { public: true } },
    schema: {
      summary: 'Quality check findings per run, newest first (paged)',
      description: 'Checks flag and never drop or change values. Each finding is one check over one series and a run of consecutive hours '
        + '(`from`..`to`, hour starts, inclusive) with the number of flagged hours (`count`). Checks: `negative_demand` (demand or forecast < 0; '
        + 'point defect, quality set to anomalous), `spike` (demand, forecast or net generation: |x − median of the previous 24 h| > 8 × 1.4826 × MAD of those hours, back within 4 MADs inside 3 h; point defect), '
        + '`flatline` (same non-zero value 6 h or more), `net_generation_vs_fuels` (|NG − Σ fuels| > 10 % of NG, hours where every fuel reported), '
        + '`interchange_mismatch` (A→B and B→A not opposite: same sign, or |A→B + B→A| > 10 % of the larger side and > 1 MW), '
        + '`conflicting_duplicate` (severity error, recorded at ingestion: one batch gave the series and hour different values, listed in `detail.hours`; '
        + 'the hour was refused, `detail.choice` = refused, and keeps any value stored before). '
        + 'Values are MW (MWh per hour). `from`/`to` filters return findings overlapping that range.',
      querystring: z.object({
        run: queryInt(1).optional().describe('ledger run id'),
        ba: z.string().regex(/^[A-Za-z0-9]{2,6}$/, 'an EIA BA code such as CISO').transform((s) => s.toUpperCase()).optional(),
        check: z.enum(CHECK_NAMES).optional(),
        from: instant.optional(),
        to: instant.optional(),
        limit: queryInt(1, 1000).default(100),
        offset: queryInt(0).default(0),
      }),
    },
  }, async (req) => {
    const { limit, offset, ...filter } = req.query;
    if (filter.from && filter.to && filter.to <= filter.from) throw new HttpProblem(400, 'to must be after from', 'to');
    const rows = await listFindings(db, filter, limit + 1, offset);
    return { data: rows.slice(0, limit), next: rows.length > limit ? offset + limit : null };
  });

  r.get('/api/v1/pipeline/backfills', {
    config: { access: { public: true } },
    schema: {
      summary: 'Backfill jobs made from detected gaps, newest first (paged)',
      description: 'A gap is a run of hours with no stored row between a series\' first and last stored hour (a stored null is not a gap). '
        + `Each gap becomes one job per BA, route and source; a gap the source still does not fill is retried up to ${MAX_BACKFILL_ATTEMPTS} times. `
        + '`from`/`to` are hour starts, inclusive; `runId` is the ledger run that did the work.',
      querystring: z.object({
        status: z.enum(['queued', 'running', 'done', 'failed']).optional(),
        limit: queryInt(1, 1000).default(100),
        offset: queryInt(0).default(0),
      }),
    },
  }, async (req) => {
    const rows = await listBackfills(db, req.query.status, req.query.limit + 1, req.query.offset);
    return { data: rows.slice(0, req.query.limit), next: rows.length > req.query.limit ? req.query.offset + req.query.limit : null };
  });
}
