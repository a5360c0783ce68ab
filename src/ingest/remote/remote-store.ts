import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EiaPoint } from '../eia-schema.ts';
import type { IngestRun, IngestStore } from '../ingest-store.ts';
import { addReason, pointSeries, type StoreCounts } from '../store-points.ts';
import type { BalancingAuthority } from '../../grid/ba-repository.ts';
import { withoutControlCharacters } from '../../platform/input-guard.ts';
import { MAX_BATCH_ROWS } from '../data-api.ts';
import { ApiRefused, type GridPulseApi } from './api-client.ts';
import type { Spool, SpoolItem } from './spool.ts';

/** The close's limits (runFinishBody): at most this many errors of at most this many characters. */
const MAX_FINISH_ERRORS = 1000;
const MAX_ERROR_CHARS = 2000;

/** How long after a failed delivery the spool is tried again (the next job also tries first). */
const REDRAIN_MS = 30_000;

/**
 * GridPulse reached through its data API, for the off-site worker. Every run's open, batches and
 * close go to the on-disk spool first and are sent from there in order (in the background while
 * the worker fetches, and before each job), so what was fetched survives GridPulse being down or
 * restarted. Inserted and updated rows are counted by the server, on the run's ledger row.
 */
export class RemoteIngestStore implements IngestStore {
  private readonly api: GridPulseApi;
  private readonly spool: Spool;
  private readonly logger: Logger;
  private readonly redrainMs: number;
  private draining: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private known: ReadonlyMap<string, BalancingAuthority> = new Map();

  constructor(api: GridPulseApi, spool: Spool, logger: Logger, opts: { redrainMs?: number } = {}) {
    this.api = api;
    this.spool = spool;
    this.logger = logger;
    this.redrainMs = opts.redrainMs ?? REDRAIN_MS;
  }

  /**
   * Reads GridPulse's BA registry (reporting zones and dates); each job calls it once GridPulse
   * answered, so runs ask EIA only for the hours each BA reports, as a local ingest does.
   */
  async loadRegistry(): Promise<void> {
    this.known = new Map((await this.api.bas()).map((b) => [b.code, b]));
  }

  /**
   * The registry as last read (no request: a run must not wait on GridPulse). Before the first read,
   * empty: every hour is asked for, which loses nothing (the plan and the gaps come from the server's
   * active BAs and clipped ranges).
   */
  async registry(bas: string[]): Promise<ReadonlyMap<string, BalancingAuthority>> {
    return new Map(bas.flatMap((code) => { const b = this.known.get(code); return b ? [[code, b] as const] : []; }));
  }

  async openRun(kind: string, params: Record<string, unknown>): Promise<IngestRun> {
    const id = randomUUID();
    const logger = this.logger.child({ runId: id });
    this.send({ op: 'open', run: id, body: { id, kind, params } });
    logger.info({ kind, ...params }, 'worker run opened (spooled for GridPulse)');
    return {
      id,
      logger,
      skip: new Set(),
      store: async (points, batch) => this.storePoints(id, points, batch, logger),
      // the raw EIA pages stay with EIA: sending them would double the worker's upload
      saveRaw: async () => {},
      // a remote run is not resumed: the next hourly pass re-plans from what GridPulse has stored
      chunkDone: async () => {},
      // each batch is the run's heartbeat on the server
      heartbeat: async () => {},
      finish: async (totals) => {
        // error text (EIA's messages) may hold newlines, which GridPulse's input guard refuses in any field
        const errors = totals.errors.slice(0, MAX_FINISH_ERRORS).map((e) => withoutControlCharacters(e).slice(0, MAX_ERROR_CHARS));
        if (totals.errors.length > MAX_FINISH_ERRORS) errors[MAX_FINISH_ERRORS - 1] = `… and ${totals.errors.length - MAX_FINISH_ERRORS + 1} more errors (see the worker's log)`;
        this.send({ op: 'finish', run: id, body: { fetched: totals.fetched, requests: totals.requests, retries: totals.retries, rejected: totals.rejected, reasons: totals.reasons ?? {}, errors } });
      },
    };
  }

  /**
   * Spools the points as data API batches. Only what the worker refuses itself (a point of no known
   * series type, with PointStore's reason) is counted here; inserted, updated, duplicates and
   * conflicting rows are counted by GridPulse on the run's ledger row when the batch arrives.
   */
  private storePoints(run: string, points: EiaPoint[], batch: string, logger: Logger): StoreCounts {
    const reasons: Record<string, number> = {};
    const rows: Array<{ ba: string; type: string; subtype: string; ts: string; value: number | null }> = [];
    for (const p of points) {
      const { type, subtype } = pointSeries(p);
      if (!type) { addReason(reasons, `unknown ${p.route} type`); logger.warn({ batch, ba: p.ba, route: p.route, code: p.code }, 'rejected point: unknown type'); continue; }
      rows.push({ ba: p.ba, type, subtype, ts: p.ts.toISOString(), value: p.value });
    }
    for (let i = 0; i < rows.length; i += MAX_BATCH_ROWS) this.send({ op: 'rows', run, body: { run, rows: rows.slice(i, i + MAX_BATCH_ROWS) } });
    const rejected = Object.values(reasons).reduce((a, n) => a + n, 0);
    return { inserted: 0, updated: 0, rejected, duplicates: 0, conflicting: 0, reasons };
  }

  /** Queues an item on disk and starts delivering in the background. */
  private send(item: SpoolItem): void {
    this.spool.push(item);
    this.kick();
  }

  /** Delivers in the background; a failure is logged and tried again after redrainMs. */
  kick(): void {
    if (this.closed || this.draining) return;
    this.draining = this.drain().catch((err: unknown) => {
      const { queued } = this.spool.counts();
      if (err instanceof ApiRefused && err.keyRefused) this.logger.error({ err: err.message, queued }, 'GridPulse refuses the worker key: nothing is sent until it is fixed; the spool keeps everything');
      else this.logger.warn({ err: (err as Error).message, queued }, 'GridPulse unreachable: items stay spooled on disk and are sent when it is back');
      if (!this.closed) { clearTimeout(this.timer); this.timer = setTimeout(() => this.kick(), this.redrainMs).unref(); }
    }).finally(() => { this.draining = undefined; });
  }

  /** Sends everything spooled, in order; throws ApiUnreachable, or ApiRefused for a refused key, leaving the rest queued. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    this.draining = this.drain().finally(() => { this.draining = undefined; });
    await this.draining;
  }

  private async drain(): Promise<void> {
    for (let item = this.spool.peek(); item && !this.closed; item = this.spool.peek()) {
      try {
        await this.deliver(item);
        this.spool.remove(item.seq);
      } catch (err) {
        if (!(err instanceof ApiRefused) || err.keyRefused) throw err;
        // refused for good (bad input, unknown run): kept aside with the reason, the rest still go
        this.spool.park(item.seq, err.status, err.message);
        this.logger.error({ runId: item.run, op: item.op, status: err.status, field: err.field, err: err.message }, 'GridPulse refused a spooled item; kept in the spool\'s refused table');
      }
    }
  }

  private async deliver(item: SpoolItem & { seq: number }): Promise<void> {
    const logger = this.logger.child({ runId: item.run });
    if (item.op === 'open') {
      const r = await this.api.request<{ runId: number; created: boolean }>('POST', '/api/v1/data/runs', item.body);
      logger.info({ serverRunId: r.runId, created: r.created }, 'run recorded by GridPulse');
    } else if (item.op === 'rows') {
      const r = await this.api.request<{ runId: number; received: number; inserted: number; updated: number; rejected: number; duplicates: number; conflicting: number; errors: unknown[] }>('POST', '/api/v1/data/observations', item.body);
      const level = r.rejected ? 'warn' : 'debug';
      logger[level]({ serverRunId: r.runId, received: r.received, inserted: r.inserted, updated: r.updated, rejected: r.rejected, duplicates: r.duplicates, conflicting: r.conflicting, errors: r.errors.slice(0, 5) }, 'batch delivered');
    } else {
      const r = await this.api.request<Record<string, unknown>>('POST', `/api/v1/data/runs/${item.run}/finish`, item.body);
      logger.info(r, 'run closed by GridPulse');
    }
  }

  counts(): { queued: number; refused: number } { return this.spool.counts(); }

  /** Stops delivering (what is queued stays on disk for the next start). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.draining?.catch(() => {});
  }
}
