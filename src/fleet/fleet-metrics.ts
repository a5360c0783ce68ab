import type { Db } from '../platform/db.ts';
import { metricsOf, once, type Metrics } from '../platform/metrics.ts';
import { HEARTBEAT_STALE_MS } from './device-repository.ts';
import type { GatewayStats } from './gateway/gateway.ts';
import { REFUSAL_REASONS, type RefusalReason } from './bus/publish-refusal.ts';

/** Rollout states (rollouts.status), the `state` label of gridpulse_fleet_rollouts. */
export const ROLLOUT_STATES = ['running', 'completed', 'aborted', 'cancelled'] as const;

/**
 * The fleet gauges of deploy/prometheus/fleet-metrics.txt, set from the database at each scrape (a collector):
 * `gridpulse_fleet_devices` — devices registered and not revoked; `gridpulse_fleet_devices_online` — of those, the
 * ones that said they are online and were heard from within HEARTBEAT_STALE_MS (the same rule as the device API's
 * `status`); `gridpulse_fleet_devices_never_seen` — provisioned, never heard from (not offline: fleet-summary.ts); `gridpulse_fleet_rollouts{state}` — rollouts by state (ROLLOUT_STATES, 0 for a state none is in). Two
 * aggregate queries per scrape. When the database cannot be read (error or over 2 s) the three are absent from the
 * scrape, not 0: no data is not "every device offline". `nowMs` is for tests.
 */
export function fleetMetrics(metrics: Metrics, db: Db, nowMs: () => number = Date.now): void {
  const devices = metrics.gauge('gridpulse_fleet_devices', 'devices registered (not retired)');
  const online = metrics.gauge('gridpulse_fleet_devices_online', 'devices whose last status or ack is within their heartbeat window');
  const neverSeen = metrics.gauge('gridpulse_fleet_devices_never_seen', 'devices provisioned but never heard from (not offline)');
  const rollouts = metrics.gauge('gridpulse_fleet_rollouts', 'rollouts by state (running, completed, aborted, cancelled)', ['state']);
  metrics.addCollector('fleet', async () => {
    const byState = new Map((await db.query<{ status: string; n: string | number }>('SELECT status, count(*) AS n FROM rollouts GROUP BY status'))
      .map((r) => [r.status, Number(r.n)]));
    for (const state of ROLLOUT_STATES) rollouts.set({ state }, byState.get(state) ?? 0);
    const [row] = await db.query<{ n: string | number; online: string | number; never_seen: string | number }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE online AND last_seen_at >= $1::timestamptz) AS online,
              count(*) FILTER (WHERE last_seen_at IS NULL) AS never_seen FROM devices WHERE revoked_at IS NULL`,
      [new Date(nowMs() - HEARTBEAT_STALE_MS).toISOString()]);
    devices.set(Number(row?.n ?? 0));
    online.set(Number(row?.online ?? 0));
    neverSeen.set(Number(row?.never_seen ?? 0));
  }, [devices, online, neverSeen, rollouts]);
}

/**
 * The gateway's own counters, from its running totals (Gateway.stats) at each scrape:
 * `gridpulse_gateway_acks_total{result="stored"|"duplicate"|"out_of_window"}` (acks written now, already stored: a
 * redelivery, or refused for an `at` outside the window of messages.ts),
 * `gridpulse_gateway_telemetry_total{result}`, `gridpulse_gateway_batches_total`, `gridpulse_gateway_retries_total`
 * (batches written again after the database refused). Dropped messages are counted by reason where they are dropped
 * (gateway.ts: `gridpulse_gateway_messages_rejected_total{reason}`), and the ack latency is observed there too.
 */
export function gatewayMetrics(metrics: Metrics, stats: () => GatewayStats): void {
  const acks = metrics.counter('gridpulse_gateway_acks_total', 'device acks taken by this gateway, by result (stored now, or a duplicate already stored)', ['result']);
  const telemetry = metrics.counter('gridpulse_gateway_telemetry_total', 'telemetry messages taken by this gateway, by result', ['result']);
  const batches = metrics.counter('gridpulse_gateway_batches_total', 'database batches written by this gateway');
  const retries = metrics.counter('gridpulse_gateway_retries_total', 'batches written again after the database refused them');
  let seen: GatewayStats | undefined;
  metrics.addCollector('gateway', async () => {
    const now = stats();
    const d = (k: keyof GatewayStats) => Math.max(0, now[k] - (seen?.[k] ?? 0));
    acks.inc({ result: 'stored' }, d('acksStored'));
    acks.inc({ result: 'duplicate' }, d('acksDuplicate'));
    acks.inc({ result: 'out_of_window' }, d('acksOutOfWindow'));
    telemetry.inc({ result: 'stored' }, d('telemetryStored'));
    telemetry.inc({ result: 'duplicate' }, d('telemetryDuplicate'));
    telemetry.inc({ result: 'out_of_window' }, d('telemetryOutOfWindow'));
    batches.inc(d('batches'));
    retries.inc(d('retries'));
    seen = now;
  });
}

/** Seconds, for a schedule's delivery: publication to the device's acknowledgement (0.1 s on a LAN … a minute and over). */
export const ACK_LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];

/** Who issued schedule versions: the `source` label of gridpulse_fleet_versions_issued_total. */
export const ISSUE_SOURCES = ['operator', 'rollout', 'optimizer', 'market'] as const;
export type IssueSource = typeof ISSUE_SOURCES[number];

/**
 * The fleet's event metrics of a registry: `gridpulse_fleet_ack_latency_seconds` (per version acknowledged for the first
 * time, seconds from its publication — the ledger's `sent_at` — to the ack stored), `gridpulse_fleet_versions_issued_total{source}`
 * (committed, by ISSUE_SOURCES) and `gridpulse_fleet_versions_published_total` (publications the bus took, first and
 * re-publications) and `gridpulse_fleet_versions_refused_total{reason}` (versions the bus refused for good and the ledger
 * marked failed: publish-refusal.ts REFUSAL_REASONS). Every label starts at 0 (the alert rules need the series before the first event); called at startup.
 */
export function fleetEventMetrics(m: Metrics) {
  const ackLatency = m.histogram('gridpulse_fleet_ack_latency_seconds', 'seconds from a schedule version\'s publication to its first acknowledgement stored', [], ACK_LATENCY_BUCKETS);
  const issued = m.counter('gridpulse_fleet_versions_issued_total', 'schedule versions issued (committed), by source (operator, rollout, optimizer, market)', ['source']);
  const published = m.counter('gridpulse_fleet_versions_published_total', 'schedule version publications the bus took (first and re-publications)');
  const refused = m.counter('gridpulse_fleet_versions_refused_total', 'schedule versions the bus refused for good (invalid, too_large, not_authorized), marked failed, never retried', ['reason']);
  if (once(m, 'fleet-events')) {
    for (const source of ISSUE_SOURCES) issued.inc({ source }, 0);
    for (const reason of REFUSAL_REASONS) refused.inc({ reason }, 0);
  }
  return { ackLatency, issued, published, refused };
}

/** Observes ledger.ts applyAcks' `ackLatencySeconds` in the registry attached to `db` (none attached: not measured). */
export function observeAckLatencies(db: Db, seconds: readonly number[]): void {
  const m = seconds.length ? metricsOf(db) : undefined;
  if (!m) return;
  const { ackLatency } = fleetEventMetrics(m);
  for (const s of seconds) ackLatency.observe(Math.max(0, s));
}

/** Counts `n` versions issued by `source`, in the registry attached to the root `db` (not a transaction's Db: call it after the commit). */
export function countIssued(db: Db, source: IssueSource, n: number): void {
  const m = n > 0 ? metricsOf(db) : undefined;
  if (m) fleetEventMetrics(m).issued.inc({ source }, n);
}

/** Counts `n` publications the bus took, in the registry attached to `db`. */
export function countPublished(db: Db, n: number): void {
  const m = n > 0 ? metricsOf(db) : undefined;
  if (m) fleetEventMetrics(m).published.inc(n);
}

/** Counts versions the bus refused for good, one per reason given, in the registry attached to `db` (after the commit). */
export function countRefused(db: Db, reasons: readonly RefusalReason[]): void {
  const m = reasons.length ? metricsOf(db) : undefined;
  if (!m) return;
  const { refused } = fleetEventMetrics(m);
  for (const reason of reasons) refused.inc({ reason });
}
