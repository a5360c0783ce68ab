import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import type { Access } from '../auth/access.ts';
import { ingestBatch, latestValues, MAX_BATCH_ROWS, MAX_LISTED_ERRORS } from './data-api.ts';
import { SERIES_REF_MESSAGE, SERIES_REF_PATTERN, seriesMatches } from '../grid/series-repository.ts';
import { type DataCaller, finishWorkerRun, ingestWorkerBatch, openWorkerRun, runFinishBody, runOpenBody } from './data-runs.ts';
import { EIA_ROUTES, storedCoverage } from './incremental-plan.ts';
import { findGaps } from './gaps.ts';
import { recordStart, recordedStart } from './intended-span.ts';
import { listBas } from '../grid/ba-repository.ts';
import { isoInstant } from '../platform/instant.ts';

/** The key (or signed-in admin, as 'user:<id>') writing through the data API. */
const callerOf = (req: FastifyRequest): DataCaller => (req.apiKey
  ? { id: req.apiKey.id, name: req.apiKey.name }
  : { id: `user:${req.principal!.id}`, name: null });

/** The data API: worker keys (scope data:write), and signed-in admins. */
const DATA_API: Access = { scopes: ['data:write'], roles: ['admin'] };

const auth = 'Requires `Authorization: Bearer <key>` with a worker key (`gridpulse keys create --kind worker`); '
  + 'a missing, malformed, unknown or revoked key gets 401 problem+json with `WWW-Authenticate: Bearer`.';

const latest = z.object({
  series: z.string(), id: z.number(), ba: z.string(), type: z.string(), subtype: z.string(), units: z.string(), source: z.string(),
  ts: z.string().nullable().describe('newest stored hour (start, ISO UTC); null when the series has no rows yet'),
  value: z.number().nullable(), quality: z.string().nullable(), ingestedAt: z.string().nullable(),
});

const problem = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), field: z.string().optional() });

const seriesRef = z.string().regex(SERIES_REF_PATTERN, SERIES_REF_MESSAGE);

/** The ingestion API for outside workers: batched writes and "latest" reads for incremental fetches. */
export function dataRoutes(app: FastifyInstance, db: Db): void {
  void app.register(async (scope) => {
    const r = scope.withTypeProvider<ZodTypeProvider>();

    r.post('/api/v1/data/observations', {
      bodyLimit: 8 * 1024 * 1024,
      config: { access: DATA_API, bodyItemsCheckedByRoute: true }, // each row on its own (partial success), control characters included
      schema: {
        summary: `Write a batch of up to ${MAX_BATCH_ROWS.toLocaleString('en-US')} hourly observations (partial success)`,
        description: `${auth}\n\n`
          + 'Body: `{ "rows": [ … ] }`. Each row names its series either by key or numeric id (`{"series": "CISO.demand"}` or `{"series": "12"}`, an existing series '
          + 'fed by this API) or by `{"ba": "CISO", "type": "demand", "subtype": ""}` (created as an external series on first sight; '
          + 'subtype is the fuel code or neighbour BA), plus `ts` (ISO instant, the START of a UTC hour), `value` (MW, i.e. MWh in the hour; '
          + 'null when unknown, stored as quality `missing`) and `quality` (`good`|`estimated`|`missing`|`anomalous`, default `good`; '
          + 'negative demand or forecast is stored `anomalous`). Series fed by EIA or the simulated grid cannot be written here.\n\n'
          + '**Partial success:** every row is validated on its own. Valid rows are upserted together in one transaction '
          + '(idempotent: re-sending a row changes nothing; a new value for a stored hour counts one revision); invalid rows are not '
          + `stored and are listed in \`errors\` with their \`index\` in \`rows\`, the \`field\` at fault and a \`message\` (at most ${MAX_LISTED_ERRORS}; `
          + '`rejected` always counts all). **Repeated series and hour** (the same rule as every other ingestion path): rows of one batch with '
          + 'the same series, hour, value and quality are stored once and counted in `duplicates` (not rejected); rows that give one series and hour '
          + 'different values are a conflict: all of them are refused (the stored hour, if any, is left as it was), listed in `errors` with field `value` '
          + 'and both values, counted in `conflicting` and in `rejected`, and recorded as a `conflicting_duplicate` finding of the run. '
          + 'The answer is 200 whenever the batch itself is well-formed, even if every row was rejected: check `rejected`. '
          + `Whole-batch problems refuse everything: more than ${MAX_BATCH_ROWS} rows or a body over 8 MiB → 413; a body that is not `
          + '`{ "rows": [ … ] }` with at least one row → 400. Accepted rows go through the same quality checks as EIA data '
          + '(findings under `runId` at /api/v1/pipeline/checks) and announce their BAs on the change-event channel.',
        body: z.object({
          rows: z.array(z.unknown()).min(1).describe('observation rows (see description)'),
          run: z.uuid().optional().describe('a worker run opened with POST /api/v1/data/runs: the rows are EIA-930 data fetched by the off-site worker, '
            + 'named by ba, type and subtype and stored as EIA series exactly as a local EIA ingest stores them (quality set by the server); counted on that run'),
        }),
        response: {
          200: z.object({
            runId: z.number().describe('ledger run of this batch (/api/v1/pipeline/runs)'),
            received: z.number(), accepted: z.number().describe('distinct rows written (after duplicates and rejections)'), inserted: z.number(), updated: z.number(),
            rejected: z.number().describe('rows not stored, including `conflicting`'),
            duplicates: z.number().describe('exact repeats of an earlier row of the batch (same series, hour, value, quality): stored once, not rejected'),
            conflicting: z.number().describe('rows refused because another row of the batch gave their series and hour a different value'),
            errors: z.array(z.object({ index: z.number(), field: z.string(), message: z.string() })),
          }),
          413: problem.describe('more than the batch limit: nothing stored'),
        },
      },
    }, async (req) => {
      const { rows } = req.body;
      if (rows.length > MAX_BATCH_ROWS) throw new HttpProblem(413, `rows: ${rows.length} rows; a batch takes at most ${MAX_BATCH_ROWS} (split it)`, 'rows');
      const deps = { db, logger: req.log as unknown as Logger };
      if (req.body.run !== undefined) return ingestWorkerBatch(deps, req.body.run, rows, callerOf(req));
      return ingestBatch(deps, rows, { keyId: callerOf(req).id });
    });

    r.post('/api/v1/data/runs', {
      config: { access: DATA_API },
      schema: {
        summary: 'Open a run of the off-site worker (gridpulse worker --remote) in the ingestion ledger',
        description: `${auth}\n\nThe worker names the run with its own UUID, so it can queue the open, the batches `
          + '(`POST /api/v1/data/observations` with `run`) and the close (`POST /api/v1/data/runs/{id}/finish`) on disk while GridPulse is '
          + 'unreachable and send them in order later; opening an id again returns the same run (200, `created: false`). The run appears at '
          + '/api/v1/pipeline/runs and on /pipeline as kind "<kind> (worker <key name>)", source eia, with `params.apiKey`. 400 names the field at fault.',
        body: runOpenBody,
        response: {
          200: z.object({ runId: z.number().describe('ledger id'), id: z.string(), created: z.boolean() }),
          201: z.object({ runId: z.number().describe('ledger id'), id: z.string(), created: z.boolean() }),
        },
      },
    }, async (req, reply) => {
      const opened = await openWorkerRun(db, req.body, callerOf(req), req.log as unknown as Logger);
      return reply.code(opened.created ? 201 : 200).send(opened);
    });

    r.post('/api/v1/data/runs/:id/finish', {
      config: { access: DATA_API },
      schema: {
        summary: 'Close a run of the off-site worker: quality checks on its range, then its ledger row',
        description: `${auth} The quality checks run over the run's BAs and hours when it stored anything, as after a local ingest; `
          + 'status is succeeded (no errors), partial (errors, something stored) or failed. Inserted, updated and rejected rows are the server\'s '
          + 'counts of the run\'s batches (plus `rejected`, rows the worker could not map). Closing again changes nothing. Unknown run → 404.',
        params: z.object({ id: z.uuid() }),
        body: runFinishBody,
        response: {
          200: z.object({ runId: z.number(), id: z.string(), status: z.string(), fetched: z.number(), inserted: z.number(), updated: z.number(), rejected: z.number(), errors: z.number() }),
          404: problem,
        },
      },
    }, async (req) => finishWorkerRun({ db, logger: req.log as unknown as Logger }, req.params.id, req.body, callerOf(req)));

    r.get('/api/v1/data/latest/routes', {
      config: { access: DATA_API },
      schema: {
        summary: 'The newest stored hour of every active BA\'s EIA routes (what an incremental fetch should start from)',
        description: `${auth} One entry per active BA and route (region: demand, net generation, total interchange; fuel; interchange: BA-to-BA), `
          + 'with the newest stored hour (start, ISO UTC) of its series of `source` (default eia), the day-ahead forecast left out (it reaches past now); '
          + '`newest` is null when nothing is stored. The off-site worker plans each hourly pass from this, BA by BA and route by route. '
          + '`intendedFrom` is the first hour (start, ISO UTC) the store is meant to hold for the source, recorded by the first start that filled it, '
          + 'or null: a BA-route with nothing stored is read from there. A worker sends the start its first fill would cover as `intendedFrom`; '
          + 'a store that has none records it (the first one wins), one that has one answers it unchanged.',
        querystring: z.object({
          source: z.enum(['eia', 'simulated', 'external']).default('eia'),
          intendedFrom: isoInstant.transform((s) => new Date(s)).optional(),
        }),
        response: { 200: z.object({ data: z.array(z.object({ ba: z.string(), route: z.enum(EIA_ROUTES as ['region', 'fuel', 'interchange']), newest: z.string().nullable() })), intendedFrom: z.string().nullable() }) },
      },
    }, async (req) => {
      const bas = (await listBas(db)).map((b) => b.code);
      const coverage = await storedCoverage(db, req.query.source, bas);
      const { source, intendedFrom } = req.query;
      const spanned = source === 'external' ? undefined : intendedFrom ? await recordStart(db, source, intendedFrom) : await recordedStart(db, source);
      return { data: coverage.map((c) => ({ ...c, newest: c.newest?.toISOString() ?? null })), intendedFrom: spanned?.toISOString() ?? null };
    });

    r.get('/api/v1/data/gaps', {
      config: { access: DATA_API },
      schema: {
        summary: 'Missing hours of the stored EIA (or simulated) series, merged per BA and route',
        description: `${auth} The gap detection of the daily job (hours between a series' first and last stored hour with no row; a stored null `
          + 'is not a gap), since `since` (default: the whole store). `from`/`to` are hour starts, inclusive. The off-site worker backfills from this.',
        querystring: z.object({
          since: isoInstant.transform((s) => new Date(s)).optional(),
          source: z.enum(['eia', 'simulated']).default('eia'),
        }),
        response: { 200: z.object({ data: z.array(z.object({ ba: z.string(), route: z.string(), from: z.string(), to: z.string(), hours: z.number() })) }) },
      },
    }, async (req) => {
      const gaps = (await findGaps(db, { since: req.query.since })).filter((g) => g.source === req.query.source);
      return { data: gaps.map((g) => ({ ba: g.ba, route: g.route, from: g.from.toISOString(), to: g.to.toISOString(), hours: g.hours })) };
    });

    r.get('/api/v1/data/series/:id/latest', {
      config: { access: DATA_API },
      schema: {
        summary: 'The newest stored hour of one series (for incremental fetches)',
        description: `${auth} \`id\` is a series key (CISO.demand, CISO.fuel.SUN) or a numeric series id. Value in the series' units (MW).`,
        params: z.object({ id: seriesRef }),
        response: { 200: z.object({ data: latest }) },
      },
    }, async (req) => {
      const [found] = await latestValues(db, [req.params.id]);
      if (!found) throw new HttpProblem(404, `unknown series '${req.params.id}'`, 'id');
      return { data: found };
    });

    r.get('/api/v1/data/latest', {
      config: { access: DATA_API },
      schema: {
        summary: 'The newest stored hour of several series at once',
        description: `${auth} \`series\`: up to 100 comma-separated series keys or ids. Unknown ones are listed in \`unknown\`.`,
        querystring: z.object({
          series: z.string().min(1).transform((s) => [...new Set(s.split(',').map((x) => x.trim()).filter(Boolean))])
            .pipe(z.array(seriesRef).min(1).max(100)),
        }),
        response: { 200: z.object({ data: z.array(latest), unknown: z.array(z.string()) }) },
      },
    }, async (req) => {
      const data = await latestValues(db, req.query.series);
      return { data, unknown: req.query.series.filter((ref) => !data.some((d) => seriesMatches({ id: d.id, key: d.series }, ref))) };
    });
  });
}
