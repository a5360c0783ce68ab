import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { getBas, type BalancingAuthority } from '../grid/ba-repository.ts';
import type { EiaPoint } from './eia-schema.ts';
import { PointStore, type OnStored, type StoreCounts } from './store-points.ts';
import { finishedChunks, finishRun, heartbeat, markResumed, recordChunk, startRun, type RunTotals } from './run-ledger.ts';
import { checkTouched, type CheckRequest } from './check-runner.ts';
import { saveRawPage, type RawPage } from './raw-pages.ts';

/**
 * Where an ingest run puts what it fetched: the local database (LocalIngestStore) or a GridPulse
 * server reached through its data API (src/ingest/remote/remote-store.ts). ingestRange, the
 * hourly plan and gap backfill are written once against this port, so the local worker and the
 * off-site worker fetch, check and record the same way.
 */
export interface IngestStore {
  /** Records a run in the ledger (kind: hourly, backfill, cli; params: what it covers). */
  openRun(kind: string, params: Record<string, unknown>, opts?: { resume?: number | undefined; onRunStarted?: ((runId: number) => Promise<void>) | undefined }): Promise<IngestRun>;
  /** The registry entries (time zone, reporting dates) of these BAs by code, so a run asks EIA only for the hours each BA reports; unknown codes are left out. */
  registry(bas: string[]): Promise<ReadonlyMap<string, BalancingAuthority>>;
}

/** One open run of an IngestStore. */
export interface IngestRun {
  /** the ledger id (local) or the worker's own run id (remote: a UUID until the server has it) */
  readonly id: number | string;
  readonly logger: Logger;
  /** day-route chunks (`route|ISO start`) already finished by the runs this one resumes */
  readonly skip: ReadonlySet<string>;
  /**
   * Stores one batch of points (`batch` names it in logs and findings) under the one duplicate rule
   * (settleDuplicates); counts are what is known when it returns (a remote store counts at the server).
   */
  store(points: EiaPoint[], batch: string): Promise<StoreCounts>;
  /** The raw EIA page, kept for audit where the store keeps them. */
  saveRaw(page: RawPage): Promise<void>;
  /** A day-route finished: resuming the run skips it. */
  chunkDone(route: string, from: Date, rows: number): Promise<void>;
  heartbeat(totals: RunTotals): Promise<void>;
  /** Runs the quality checks on the range the run covered (when it wrote anything) and closes the run. */
  finish(totals: RunTotals, checked: Omit<CheckRequest, 'runId'>): Promise<void>;
}

/** The local database: the ledger, PointStore upserts, raw pages and the quality checks, in-process. */
export class LocalIngestStore implements IngestStore {
  private readonly db: Db;
  private readonly logger: Logger;
  private readonly onStored: OnStored | undefined;

  constructor(db: Db, logger: Logger, opts: { onStored?: OnStored | undefined } = {}) {
    this.db = db;
    this.logger = logger;
    this.onStored = opts.onStored;
  }

  async registry(bas: string[]): Promise<ReadonlyMap<string, BalancingAuthority>> {
    return new Map((await getBas(this.db, bas)).map((b) => [b.code, b]));
  }

  async openRun(kind: string, params: Record<string, unknown>, opts: { resume?: number | undefined; onRunStarted?: ((runId: number) => Promise<void>) | undefined } = {}): Promise<IngestRun> {
    const db = this.db;
    const runId = await startRun(db, kind, 'eia', params);
    await opts.onRunStarted?.(runId);
    const logger = this.logger.child({ runId });
    const skip = opts.resume ? await finishedChunks(db, opts.resume) : new Set<string>();
    if (opts.resume) {
      await markResumed(db, runId, opts.resume);
      logger.info({ resumes: opts.resume, finishedChunks: skip.size }, 'resuming run');
    }
    const points = new PointStore(db, logger, 'eia', { runId, ...(this.onStored ? { onStored: this.onStored } : {}) });
    return {
      id: runId,
      logger,
      skip,
      store: (page, batch) => points.store(page, batch),
      saveRaw: (page) => saveRawPage(db, runId, page),
      chunkDone: (route, from, rows) => recordChunk(db, runId, route, from, rows),
      heartbeat: (totals) => heartbeat(db, runId, totals),
      finish: async (totals, checked) => {
        await checkTouched({ db, logger }, totals, { ...checked, runId });
        await finishRun(db, runId, totals);
      },
    };
  }
}
