import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';
import type { RawPage } from './raw-pages.ts';
import { envelope, routePath, sortColumns, startToPeriod, toPoint, type EiaPoint, type EiaRoute } from './eia-schema.ts';

export interface EiaClientOptions {
  baseUrl: string;
  apiKey: string;
  logger: Logger;
  /** minimum milliseconds between requests (EIA allows about 5/s); 0 turns the limiter off */
  minIntervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  pageSize?: number;
  /** consecutive failed requests after which the client refuses to call for `breakerCooldownMs` */
  breakerThreshold?: number;
  breakerCooldownMs?: number;
}

export interface EiaStats { requests: number; retries: number; rows: number; failures: number }

export class EiaError extends Error {}

class RetryableStatus extends Error {}

/** EIA Open Data API v2 client for the EIA-930 routes: paged, sorted, validated, polite. */
export class EiaClient {
  readonly stats: EiaStats = { requests: 0, retries: 0, rows: 0, failures: 0 };
  private readonly opts: Required<EiaClientOptions>;
  private nextSlot = 0;
  private consecutiveFailures = 0;
  private openUntil = 0;

  constructor(opts: EiaClientOptions) {
    this.opts = { minIntervalMs: 250, timeoutMs: 30_000, retries: 5, pageSize: 5000, breakerThreshold: 10, breakerCooldownMs: 60_000, ...opts };
  }

  /**
   * Every point of a route for the BAs (all when empty) with hour starts in [from, to]. `onRaw`
   * sees each page's rows as received (for the audit) and is awaited before they are parsed, so
   * a page that fails to parse is still kept.
   */
  async *fetch(route: EiaRoute, q: { bas: string[]; from: Date; to: Date }, hooks: { onRaw?: (page: RawPage) => void | Promise<void>; signal?: AbortSignal } = {}): AsyncGenerator<EiaPoint[]> {
    let offset = 0;
    let total: number | undefined;
    for (;;) {
      const url = this.url(route, q, offset);
      const page = await this.page(url, hooks.signal);
      if (total !== undefined && page.total !== total) {
        throw new EiaError(`${route}: total changed between pages (${total} → ${page.total}); retry the range`);
      }
      total = page.total;
      await hooks.onRaw?.({ route, request: url.pathname + '?' + url.searchParams.toString(), offset, rows: page.data });
      const points = page.data.map((raw) => toPoint(route, raw));
      this.stats.rows += points.length;
      if (points.length) yield points;
      offset += page.data.length;
      if (page.data.length === 0 || offset >= total) return;
    }
  }

  private url(route: EiaRoute, q: { bas: string[]; from: Date; to: Date }, offset: number): URL {
    const url = new URL(`${this.opts.baseUrl.replace(/\/$/, '')}/${routePath[route]}/data/`);
    const p = url.searchParams;
    p.set('frequency', 'hourly');
    p.append('data[0]', 'value');
    // EIA's start/end are hour-ending labels, end inclusive.
    p.set('start', startToPeriod(q.from));
    p.set('end', startToPeriod(q.to));
    const facet = route === 'interchange' ? 'fromba' : 'respondent';
    for (const ba of q.bas) p.append(`facets[${facet}][]`, ba);
    sortColumns[route].forEach((c, i) => {
      p.set(`sort[${i}][column]`, c);
      p.set(`sort[${i}][direction]`, 'asc');
    });
    p.set('offset', String(offset));
    p.set('length', String(this.opts.pageSize));
    return url;
  }

  private async throttle(): Promise<void> {
    if (!this.opts.minIntervalMs) return;
    const now = Date.now();
    const wait = this.nextSlot - now;
    this.nextSlot = Math.max(now, this.nextSlot) + this.opts.minIntervalMs;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  private async page(url: URL, signal?: AbortSignal): Promise<{ total: number; data: unknown[] }> {
    if (Date.now() < this.openUntil) throw new EiaError('circuit open: EIA failed repeatedly, not calling until cooldown ends');
    const logUrl = url.pathname + '?' + url.searchParams.toString();
    try {
      const result = await pRetry(async () => {
        await this.throttle();
        this.stats.requests++;
        const timeout = AbortSignal.timeout(this.opts.timeoutMs);
        const res = await fetch(url, { headers: { 'X-Api-Key': this.opts.apiKey }, signal: signal ? AbortSignal.any([timeout, signal]) : timeout });
        if (res.status === 429 || res.status >= 500) throw new RetryableStatus(`HTTP ${res.status}`);
        if (!res.ok) throw new AbortError(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
        const text = await res.text();
        let json: unknown;
        try { json = JSON.parse(text); } catch { throw new RetryableStatus(`malformed JSON (${text.length} bytes)`); }
        const parsed = envelope.safeParse(json);
        if (!parsed.success) throw new AbortError(`unexpected response shape: ${parsed.error.issues[0]?.message}`);
        return parsed.data.response;
      }, {
        retries: this.opts.retries, factor: 2, minTimeout: 200, maxTimeout: 10_000, randomize: true, ...(signal ? { signal } : {}),
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft > 0) this.stats.retries++;
          this.opts.logger.warn({ url: logUrl, attempt: attemptNumber, err: error.message }, 'EIA request failed');
        },
      });
      this.consecutiveFailures = 0;
      return result;
    } catch (err) {
      this.stats.failures++;
      if (++this.consecutiveFailures >= this.opts.breakerThreshold) this.openUntil = Date.now() + this.opts.breakerCooldownMs;
      throw err instanceof EiaError ? err : new EiaError(`${logUrl}: ${(err as Error).message}`, { cause: err });
    }
  }
}
