import type { Db } from '../platform/db.ts';
import type { Metrics } from '../platform/metrics.ts';
import { HEARTBEAT_STALE_MS } from './device-repository.ts';
import type { GatewayStats } from './gateway/gateway.ts';

/**
 * The fleet gauges of deploy/prometheus/fleet-metrics.txt, set from the database at each scrape (a collector):
 * `gridpulse_fleet_devices` — devices registered and not revoked; `gridpulse_fleet_devices_online` — of those, the
 * ones that said they are online and were heard from within HEARTBEAT_STALE_MS (the same rule as the device API's
 * `status`). One aggregate query per scrape. `nowMs` is for tests.
 */
export function fleetMetrics(metrics: Metrics, db: Db, nowMs: () => number = Date.now): void {
  const devices = metrics.gauge('gridpulse_fleet_devices', 'devices registered (not retired)');
  const online = metrics.gauge('gridpulse_fleet_devices_online', 'devices whose last status or ack is within their heartbeat window');
  metrics.addCollector('fleet', async () => {
    const [row] = await db.query<{ n: string | number; online: string | number }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE online AND last_seen_at >= $1::timestamptz) AS online FROM devices WHERE revoked_at IS NULL`,
      [new Date(nowMs() - HEARTBEAT_STALE_MS).toISOString()]);
    devices.set(Number(row?.n ?? 0));
    online.set(Number(row?.online ?? 0));
  });
}

/**
 * The gateway's own counters, from its running totals (Gateway.stats) at each scrape:
 * `gridpulse_gateway_acks_total{result="stored"|"duplicate"|"out_of_window"}` (acks written now, already stored: a
 * redelivery, or refused for an `at` outside the window of messages.ts),
 * `gridpulse_gateway_telemetry_total{result}`, `gridpulse_gateway_batches_total`, `gridpulse_gateway_retries_total`
 * (batches written again after the database refused) and `gridpulse_gateway_invalid_total` (messages dropped as invalid).
 */
export function gatewayMetrics(metrics: Metrics, stats: () => GatewayStats): void {
  const acks = metrics.counter('gridpulse_gateway_acks_total', 'device acks taken by this gateway, by result (stored now, or a duplicate already stored)', ['result']);
  const telemetry = metrics.counter('gridpulse_gateway_telemetry_total', 'telemetry messages taken by this gateway, by result', ['result']);
  const batches = metrics.counter('gridpulse_gateway_batches_total', 'database batches written by this gateway');
  const retries = metrics.counter('gridpulse_gateway_retries_total', 'batches written again after the database refused them');
  const invalid = metrics.counter('gridpulse_gateway_invalid_total', 'device messages dropped as invalid');
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
    invalid.inc(d('invalid'));
    seen = now;
  });
}
