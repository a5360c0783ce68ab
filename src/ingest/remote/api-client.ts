import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';
import type { EiaRoute } from '../eia-schema.ts';
import type { RouteCoverage } from '../incremental-plan.ts';
import type { BalancingAuthority } from '../../grid/ba-repository.ts';

/** GridPulse answered with a refusal that a repeat will not change (4xx other than 408 and 429). */
export class ApiRefused extends Error {
  readonly status: number;
  readonly field: string | undefined;
  constructor(status: number, detail: string, field?: string) {
    super(`GridPulse refused ${status === 401 || status === 403 ? 'the worker key' : 'the request'} (${status}): ${detail}`);
    this.status = status;
    this.field = field;
  }
  /** The key itself was refused (missing, unknown, revoked, wrong role): nothing will get through. */
  get keyRefused(): boolean { return this.status === 401 || this.status === 403; }
}

/** GridPulse could not be reached, or kept failing (network, timeout, 5xx, 429, 408), after every retry. */
export class ApiUnreachable extends Error {}

export interface GridPulseApiOptions {
  /** the server's base URL, e.g. http://gridpulse.lan:3000 */
  baseUrl: string;
  /** a worker key (gridpulse keys create --kind worker), sent as Authorization: Bearer */
  key: string;
  logger: Logger;
  retries?: number;
  minTimeoutMs?: number;
  maxTimeoutMs?: number;
  timeoutMs?: number;
}

export interface RemoteGap { ba: string; route: EiaRoute; from: Date; to: Date; hours: number }

/**
 * The off-site worker's client of GridPulse's data API: every call retried with jittered
 * exponential backoff on network errors, timeouts, 5xx, 429 and 408; other refusals are final
 * (ApiRefused, with the problem+json detail). The key is never logged.
 */
export class GridPulseApi {
  private readonly opts: Required<GridPulseApiOptions>;

  constructor(opts: GridPulseApiOptions) {
    this.opts = { retries: 5, minTimeoutMs: 500, maxTimeoutMs: 30_000, timeoutMs: 30_000, ...opts, baseUrl: opts.baseUrl.replace(/\/+$/, '') };
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = `${this.opts.baseUrl}${path}`;
    try {
      return await pRetry(async () => {
        const res = await fetch(url, {
          method,
          headers: { authorization: `Bearer ${this.opts.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        const text = await res.text();
        if (res.status >= 500 || res.status === 429 || res.status === 408) throw new Error(`HTTP ${res.status}`);
        if (!res.ok) {
          let detail = text.slice(0, 300);
          let field: string | undefined;
          try { ({ detail, field } = JSON.parse(text) as { detail: string; field?: string }); } catch { /* not problem+json: keep the text */ }
          throw new AbortError(new ApiRefused(res.status, detail, field));
        }
        return JSON.parse(text) as T;
      }, {
        retries: this.opts.retries, factor: 2, minTimeout: this.opts.minTimeoutMs, maxTimeout: this.opts.maxTimeoutMs, randomize: true,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          this.opts.logger.warn({ method, path, attempt: attemptNumber, retriesLeft, err: error.message }, 'GridPulse request failed');
        },
      });
    } catch (err) {
      if (err instanceof ApiRefused) throw err;
      throw new ApiUnreachable(`GridPulse at ${this.opts.baseUrl} unreachable: ${method} ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The newest stored hour of every active BA's routes (GET /api/v1/data/latest/routes). */
  /** The newest stored hour of every active BA's routes and the store's intended start, proposing `intendedFrom` when the store has none. */
  async latestRoutes(intendedFrom?: Date): Promise<RouteCoverage[] & { intendedFrom?: Date | undefined }> {
    const q = intendedFrom ? `&intendedFrom=${encodeURIComponent(intendedFrom.toISOString())}` : '';
    const r = await this.request<{ data: Array<{ ba: string; route: EiaRoute; newest: string | null }>; intendedFrom?: string | null }>('GET', `/api/v1/data/latest/routes?source=eia${q}`);
    const coverage: RouteCoverage[] & { intendedFrom?: Date | undefined } = r.data.map((c) => ({ ba: c.ba, route: c.route, newest: c.newest === null ? null : new Date(c.newest) }));
    // the store's intended start (absent from a server older than it)
    coverage.intendedFrom = r.intendedFrom ? new Date(r.intendedFrom) : undefined;
    return coverage;
  }

  /** The BA registry, retired BAs included (GET /api/v1/bas?includeRetired=true): reporting zones and dates. */
  async bas(): Promise<BalancingAuthority[]> {
    return (await this.request<{ data: BalancingAuthority[] }>('GET', '/api/v1/bas?includeRetired=true')).data;
  }

  /** Gaps in the stored EIA series since `since` (GET /api/v1/data/gaps). */
  async gaps(since: Date | undefined): Promise<RemoteGap[]> {
    const q = since ? `&since=${encodeURIComponent(since.toISOString())}` : '';
    const r = await this.request<{ data: Array<{ ba: string; route: EiaRoute; from: string; to: string; hours: number }> }>('GET', `/api/v1/data/gaps?source=eia${q}`);
    return r.data.map((g) => ({ ...g, from: new Date(g.from), to: new Date(g.to) }));
  }
}
