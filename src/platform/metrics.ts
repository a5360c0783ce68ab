import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { within } from './within.ts';

/** Seconds; finer than prom-client's defaults at the low end, where cached answers live. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds, for scheduled jobs (seconds to many minutes). */
export const JOB_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

type Metric = Counter<string> | Gauge<string> | Histogram<string>;

/**
 * Prometheus metrics of one app or worker: its own prom-client registry (never the global
 * default one, so several apps in one process, as in the tests, do not collide), with the Node
 * process metrics. Domains declare their metrics where they use them through `counter`, `gauge`
 * and `histogram`, which return the existing metric when the name is already registered.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly byName = new Map<string, { kind: string; labels: string; metric: Metric }>();
  private tokenDigest: Buffer | undefined;
  private readonly collectors = new Map<string, { collect: () => Promise<void>; gauges: readonly Gauge<string>[] }>();

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.getOrCreate('counter', name, labelNames, () => new Counter({ name, help, labelNames, registers: [this.registry] }));
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.getOrCreate('gauge', name, labelNames, () => new Gauge({ name, help, labelNames, registers: [this.registry] }));
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets = DURATION_BUCKETS): Histogram<L> {
    return this.getOrCreate('histogram', name, labelNames, () => new Histogram({ name, help, labelNames, buckets, registers: [this.registry] }));
  }

  /**
   * Registers (or replaces) a collector: a function that sets `gauges` from a store before each scrape (data
   * freshness from the database; the gateway's devices online). Collectors run together before render; one that
   * fails or takes over 2 s is counted in `gridpulse_metrics_collector_failures_total{collector}` and its gauges are
   * absent from that scrape (every series removed, not 0 nor a stale value: an alert rule must not read "no devices
   * online" from a database it could not read). Its gauges are absent until its first success too.
   */
  addCollector(name: string, collect: () => Promise<void>, gauges: readonly Gauge<string>[] = []): void {
    for (const g of gauges) clear(g);
    this.collectors.set(name, { collect, gauges });
  }

  /** The exposition text (Prometheus text format 0.0.4), after running the collectors. */
  async render(): Promise<string> {
    if (this.collectors.size) {
      const failures = this.counter('gridpulse_metrics_collector_failures_total', 'metrics collectors that failed or timed out (2 s) at a scrape, by collector', ['collector']);
      await Promise.all([...this.collectors].map(async ([name, { collect, gauges }]) => {
        try {
          await within(collect(), 2000, 'timeout');
        } catch {
          failures.inc({ collector: name });
          for (const g of gauges) clear(g);
        }
      }));
    }
    return this.registry.metrics();
  }

  /** Requires `Authorization: Bearer <token>` on GET /metrics; undefined or '' leaves it open. */
  protect(token: string | undefined): void {
    this.tokenDigest = token ? digest(token) : undefined;
  }

  get isProtected(): boolean {
    return this.tokenDigest !== undefined;
  }

  /** Whether an Authorization header may read the metrics (constant-time comparison). */
  authorized(header: string | undefined): boolean {
    if (!this.tokenDigest) return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    return m !== null && timingSafeEqual(digest(m[1]!), this.tokenDigest);
  }

  private getOrCreate<M extends Metric>(kind: string, name: string, labelNames: readonly string[], create: () => M): M {
    const labels = [...labelNames].sort().join(',');
    const known = this.byName.get(name);
    if (known) {
      if (known.kind !== kind || known.labels !== labels) throw new Error(`metric ${name} is already a ${known.kind} with labels [${known.labels}]`);
      return known.metric as M;
    }
    const metric = create();
    this.byName.set(name, { kind, labels, metric });
    return metric;
  }
}

/** Removes every series of a gauge (prom-client keeps an unlabelled gauge at 0 after reset(); remove({}) drops it). */
function clear(g: Gauge<string>): void {
  g.reset();
  g.remove({});
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

const done = new WeakMap<Metrics, Set<string>>();

/**
 * True the first time it is called for (metrics, key), false after: for a domain's one-time set-up of its metrics in
 * a registry, e.g. series declared at 0 (a histogram's `zero` would reset what it observed since).
 */
export function once(metrics: Metrics, key: string): boolean {
  let keys = done.get(metrics);
  if (!keys) done.set(metrics, keys = new Set());
  if (keys.has(key)) return false;
  keys.add(key);
  return true;
}

const attached = new WeakMap<object, Metrics>();

/**
 * Makes `metrics` the registry for work done through these resources (the app's Db, its Cache)
 * by code that is handed the resource but not the registry, e.g. the analytics cache and the
 * observation writes. A resource without metrics attached is simply not measured.
 */
export function attachMetrics(metrics: Metrics, ...resources: object[]): void {
  for (const r of resources) attached.set(r, metrics);
}

export function metricsOf(resource: object): Metrics | undefined {
  return attached.get(resource);
}
