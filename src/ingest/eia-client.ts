import { injectHeaders, SpanKind, withSpan } from '../platform/tracing.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';
import type { Metrics } from '../platform/metrics.ts';
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
  /** where requests, retries and the breaker's state are counted (see eiaMetrics) */
  metrics?: Metrics;
  /** times a whole read whose pages do not add up is read again before it fails (see checkRead) */
  readRetries?: number;
  /** wait before the first re-read; doubled for each further one */
  readRetryDelayMs?: number;
}

export interface EiaStats { requests: number; retries: number; rows: number; failures: number; incompleteReads: number }

export class EiaError extends Error {}

/**
 * A paged read that still did not add up after its re-reads. `points` are the rows of the last
 * attempt (every page as received, in order), so the caller may keep what it got without calling
 * the read complete.
 */
export class IncompleteReadError extends EiaError {
  readonly points: EiaPoint[];
  constructor(message: string, points: EiaPoint[]) { super(message); this.points = points; }
}

/** One page of a read: the `total` it announced and its parsed rows. */
export interface ReadPage { total: number; points: EiaPoint[] }

/**
 * Why the pages of one paged read do not add up to one consistent answer, or undefined when they
 * do. A read is incomplete when its pages announce different totals (the data changed while it
 * was paged), when a page repeats a (BA, code, hour) of an earlier page (overlapping pages: the
 * slots they take hide other rows, so fewer distinct rows than `total` arrive), or when the rows
 * received are not `total` (a page came back short or empty before the end). A key repeated
 * inside one page is not a paging fault: the store's duplicate rule handles it. Known limit: a
 * key EIA itself repeats that falls across a page boundary reads as an overlap.
 */
export function checkRead(pages: readonly ReadPage[]): string | undefined {
  if (pages.length === 0) return 'no page received';
  const problems: string[] = [];
  const totals = [...new Set(pages.map((p) => p.total))];
  if (totals.length > 1) problems.push(`total changed between pages (${totals.join(' → ')})`);
  const firstPage = new Map<string, number>();
  let repeated = 0;
  let received = 0;
  pages.forEach((page, i) => {
    received += page.points.length;
    for (const p of page.points) {
      const k = `${p.ba}|${p.code}|${p.ts.getTime()}`;
      const first = firstPage.get(k);
      if (first === undefined) firstPage.set(k, i);
      else if (first < i) repeated++;
    }
  });
  const total = pages[0]!.total;
  if (repeated) problems.push(`pages overlap: ${repeated} rows repeat keys of earlier pages (${firstPage.size} distinct rows of total ${total})`);
  if (received !== total && totals.length === 1) problems.push(`${received} rows received of total ${total}`);
  return problems.length ? problems.join('; ') : undefined;
}

/** A failed attempt worth retrying; `outcome` is its label in gridpulse_eia_requests_total. */
class RetryableStatus extends Error {
  readonly outcome: string;
  constructor(message: string, outcome: string) { super(message); this.outcome = outcome; }
}

/** Outcomes that end the attempts at once (no retry). */
/** Ends the attempts at once; p-retry does not call onFailedAttempt for it, so it is counted where it is thrown. */
class Fatal extends AbortError {}

function outcomeOf(error: Error): string {
  if (error instanceof RetryableStatus) return error.outcome;
  return error.name === 'TimeoutError' ? 'timeout' : 'network';
}

/** The client's metrics; outcomes: ok, rate_limited, server_error, client_error, malformed, bad_shape, timeout, network, aborted. */
export function eiaMetrics(m: Metrics) {
  return {
    requests: m.counter('gridpulse_eia_requests_total', 'EIA API requests (each attempt) by route and outcome', ['route', 'outcome']),
    retries: m.counter('gridpulse_eia_retries_total', 'EIA API attempts that failed and were retried, by route', ['route']),
    breakerOpen: m.gauge('gridpulse_eia_circuit_open', '1 from when the EIA circuit breaker opens until a request succeeds again, else 0'),
    breakerOpened: m.counter('gridpulse_eia_circuit_opened_total', 'times the EIA circuit breaker opened'),
    breakerRejections: m.counter('gridpulse_eia_circuit_rejections_total', 'pages refused without calling EIA because the circuit was open'),
    incompleteReads: m.counter('gridpulse_eia_incomplete_reads_total', 'paged reads whose pages did not add up (changed total, overlapping pages, rows missing), each attempt, by route', ['route']),
  };
}

/** EIA Open Data API v2 client for the EIA-930 routes: paged, sorted, validated, polite. */
export class EiaClient {
  readonly stats: EiaStats = { requests: 0, retries: 0, rows: 0, failures: 0, incompleteReads: 0 };
  private readonly opts: Required<Omit<EiaClientOptions, 'metrics'>>;
  private readonly metrics: ReturnType<typeof eiaMetrics> | undefined;
  private nextSlot = 0;
  private consecutiveFailures = 0;
  private openUntil = 0;

  constructor(opts: EiaClientOptions) {
    const { metrics, ...rest } = opts;
    this.opts = { minIntervalMs: 250, timeoutMs: 30_000, retries: 5, pageSize: 5000, breakerThreshold: 10, breakerCooldownMs: 60_000, readRetries: 2, readRetryDelayMs: 2_000, ...rest };
    this.metrics = metrics ? eiaMetrics(metrics) : undefined;
  }

  /**
   * Every point of a route for the BAs (all when empty) with hour starts in [from, to], as one
   * consistent read: all pages are read and checked together (checkRead) before any is yielded,
   * and a read that does not add up is read again (`readRetries` times, with backoff) and then
   * fails with IncompleteReadError; so ask for about a day at a time. `onRaw` sees each page's
   * rows as received, of every attempt (for the audit), and is awaited before they are parsed,
   * so a page that fails to parse is still kept. Yields the pages' points, page by page.
   */
  async *fetch(route: EiaRoute, q: { bas: string[]; from: Date; to: Date }, hooks: { onRaw?: (page: RawPage) => void | Promise<void>; signal?: AbortSignal } = {}): AsyncGenerator<EiaPoint[]> {
    for (let attempt = 1; ; attempt++) {
      const pages = await this.readPages(route, q, hooks);
      const problem = checkRead(pages);
      if (problem === undefined) {
        for (const page of pages) {
          this.stats.rows += page.points.length;
          if (page.points.length) yield page.points;
        }
        return;
      }
      this.stats.incompleteReads++;
      this.metrics?.incompleteReads.inc({ route });
      const range = `${startToPeriod(q.from)}..${startToPeriod(q.to)}`;
      this.opts.logger.warn({ route, range, attempt, problem }, 'EIA pages do not add up: incomplete read');
      if (attempt > this.opts.readRetries) {
        throw new IncompleteReadError(`${route} ${range}: incomplete read after ${attempt} attempts: ${problem}`, pages.flatMap((p) => p.points));
      }
      this.stats.retries++;
      this.metrics?.retries.inc({ route });
      await sleep(this.opts.readRetryDelayMs * 2 ** (attempt - 1), undefined, hooks.signal ? { signal: hooks.signal } : {});
    }
  }

  /** Every page of one read, from offset 0 until `total` rows arrived, an empty page, or the total changed. */
  private async readPages(route: EiaRoute, q: { bas: string[]; from: Date; to: Date }, hooks: { onRaw?: (page: RawPage) => void | Promise<void>; signal?: AbortSignal }): Promise<ReadPage[]> {
    const pages: ReadPage[] = [];
    let offset = 0;
    for (;;) {
      const url = this.url(route, q, offset);
      const page = await this.page(route, url, hooks.signal);
      await hooks.onRaw?.({ route, request: url.pathname + '?' + url.searchParams.toString(), offset, rows: page.data });
      pages.push({ total: page.total, points: page.data.map((raw) => toPoint(route, raw)) });
      offset += page.data.length;
      if (page.data.length === 0 || offset >= page.total || page.total !== pages[0]!.total) return pages;
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

  private async page(route: EiaRoute, url: URL, signal?: AbortSignal): Promise<{ total: number; data: unknown[] }> {
    if (Date.now() < this.openUntil) {
      this.metrics?.breakerRejections.inc();
      throw new EiaError('circuit open: EIA failed repeatedly, not calling until cooldown ends');
    }
    const logUrl = url.pathname + '?' + url.searchParams.toString();
    const count = (outcome: string) => this.metrics?.requests.inc({ route, outcome });
    try {
      const result = await pRetry(async () => withSpan(`EIA GET ${route}`, { 'http.request.method': 'GET', 'server.address': url.host, 'url.path': url.pathname, 'gridpulse.eia.offset': Number(url.searchParams.get('offset')) }, async (span) => {
        await this.throttle();
        signal?.throwIfAborted();
        this.stats.requests++;
        const timeout = AbortSignal.timeout(this.opts.timeoutMs);
        const res = await fetch(url, { headers: injectHeaders({ 'X-Api-Key': this.opts.apiKey }), signal: signal ? AbortSignal.any([timeout, signal]) : timeout });
        span?.setAttribute('http.response.status_code', res.status);
        const text = await res.text();
        if (res.status === 429) throw new RetryableStatus(`HTTP ${res.status}`, 'rate_limited');
        if (res.status >= 500) throw new RetryableStatus(`HTTP ${res.status}`, 'server_error');
        if (!res.ok) { count('client_error'); throw new Fatal(`HTTP ${res.status}: ${text.slice(0, 200)}`); }
        let json: unknown;
        try { json = JSON.parse(text); } catch { throw new RetryableStatus(`malformed JSON (${text.length} bytes)`, 'malformed'); }
        const parsed = envelope.safeParse(json);
        if (!parsed.success) { count('bad_shape'); throw new Fatal(`unexpected response shape: ${parsed.error.issues[0]?.message}`); }
        count('ok');
        return parsed.data.response;
      }, { kind: SpanKind.CLIENT }), {
        retries: this.opts.retries, factor: 2, minTimeout: 200, maxTimeout: 10_000, randomize: true, ...(signal ? { signal } : {}),
        // the caller's abort ends the attempts without counting, logging or waiting
        shouldRetry: () => !signal?.aborted,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          if (signal?.aborted) return;
          count(outcomeOf(error));
          if (retriesLeft > 0) { this.stats.retries++; this.metrics?.retries.inc({ route }); }
          this.opts.logger.warn({ url: logUrl, attempt: attemptNumber, err: error.message }, 'EIA request failed');
        },
      });
      this.consecutiveFailures = 0;
      this.metrics?.breakerOpen.set(0);
      return result;
    } catch (err) {
      if (signal?.aborted) {
        // Stopped by the caller (e.g. shutdown): not an upstream failure, so neither counted as
        // one nor a step toward opening the circuit.
        count('aborted');
        throw new EiaError(`${logUrl}: aborted`, { cause: signal.reason ?? err });
      }
      this.stats.failures++;
      if (++this.consecutiveFailures >= this.opts.breakerThreshold) {
        if (Date.now() >= this.openUntil) { this.metrics?.breakerOpened.inc(); this.metrics?.breakerOpen.set(1); }
        this.openUntil = Date.now() + this.opts.breakerCooldownMs;
      }
      throw err instanceof EiaError ? err : new EiaError(`${logUrl}: ${(err as Error).message}`, { cause: err });
    }
  }
}
