import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { requireApiKey } from '../auth/bearer.ts';
import { ingestBatch, latestValues, MAX_BATCH_ROWS, MAX_LISTED_ERRORS } from './data-api.ts';
import { SERIES_REF_MESSAGE, SERIES_REF_PATTERN, seriesMatches } from '../grid/series-repository.ts';

const auth = 'Requires `Authorization: Bearer <key>` with a worker key (`gridpulse keys create --role worker`); '
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
    scope.addHook('onRequest', requireApiKey(db, ['worker', 'admin']));
    const r = scope.withTypeProvider<ZodTypeProvider>();

    r.post('/api/v1/data/observations', {
      bodyLimit: 8 * 1024 * 1024,
      config: { bodyItemsCheckedByRoute: true }, // each row on its own (partial success), control characters included
      schema: {
        security: [{ workerKey: [] }],
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
        body: z.object({ rows: z.array(z.unknown()).min(1).describe('observation rows (see description)') }),
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
      return ingestBatch({ db, logger: req.log as unknown as Logger }, rows, { keyId: req.apiKey!.id });
    });

    r.get('/api/v1/data/series/:id/latest', {
      schema: {
        security: [{ workerKey: [] }],
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
      schema: {
        security: [{ workerKey: [] }],
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
