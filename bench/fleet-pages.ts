import { fleetHistory, offlineDevices } from '../src/fleet/overview/fleet-overview.ts';
import { hashMqttPassword } from '../src/fleet/device-credentials.ts';
import { envInt, fmt, openEngineDb, printTable, timed } from './support.ts';

/**
 * The fleet pages' own reads at fleet size: (1) GET /api/v1/fleet/history's query (6 hours of per-minute telemetry
 * of FLEET_PAGES_DEVICES devices in 5-minute buckets, capacity-weighted SoC and summed power) against the reference
 * of one plain pass over the same rows (count, mean SoC, summed power, no grouping); (2) the offline-devices list
 * (what the devices_offline alert evaluates) against a plain count of the devices table.
 */
export async function benchFleetPages(): Promise<void> {
  const devices = envInt('FLEET_PAGES_DEVICES', 2_000);
  const minutes = 360;
  const { db, drop } = await openEngineDb('bench_fleet_pages');
  try {
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const from = new Date(now.getTime() - minutes * 60_000);
    const ids = Array.from({ length: devices }, (_, i) => `bench-${String(i).padStart(6, '0')}`);
    const hash = hashMqttPassword('bench');
    // a tenth offline (Last Will 20 minutes ago), the rest online
    await db.copyInto('devices', ['id', 'name', 'capacity_kwh', 'max_charge_kw', 'max_discharge_kw', 'mqtt_password_hash', 'online', 'last_seen_at', 'status_at', 'soc_pct', 'power_kw'],
      ids.map((id, i) => [id, `Bench ${i}`, 10 + (i % 5), 5, 5, hash, i % 10 !== 0, i % 10 === 0 ? new Date(now.getTime() - 1_200_000) : now, new Date(now.getTime() - 1_200_000), 50, 1]));
    await db.query('SELECT ensure_device_telemetry_partitions($1, $2)', [from, now]);
    function* samples() {
      for (let m = 0; m < minutes; m++) {
        const at = new Date(from.getTime() + m * 60_000);
        for (let i = 0; i < devices; i++) yield [ids[i]!, at, m, 20 + ((i + m) % 60), ((i + m) % 7) - 3, 1, 'charge'] as const;
      }
    }
    await db.copyInto('device_telemetry', ['device_id', 'at', 'seq', 'soc_pct', 'power_kw', 'schedule_version', 'mode'], samples());
    await db.query('ANALYZE device_telemetry');
    const rows = devices * minutes;
    const history = await timed(() => fleetHistory(db, from, now, 5));
    const scan = await timed(() => db.query('SELECT count(*), avg(soc_pct), sum(power_kw) FROM device_telemetry WHERE at >= $1 AND at < $2', [from, now]));
    const offline = await timed(() => offlineDevices(db, now, { limit: 50 }));
    const count = await timed(() => db.query('SELECT count(*) FROM devices'));
    printTable(`Fleet pages on ${db.kind}: ${fmt(devices)} devices, ${fmt(rows)} telemetry rows`, ['work', 'result', 'time ms', 'reference', 'reference ms', 'ratio'], [
      [`fleet SoC and power, 6 h in 5-minute buckets (GET /api/v1/fleet/history)`, `${history.result.length} buckets`, fmt(history.ms), 'one plain pass over the same rows', fmt(scan.ms), fmt(history.ms / scan.ms, 2)],
      ['offline devices, longest first (GET /api/v1/fleet/offline, the alert\'s rule)', `${offline.result.length} listed`, fmt(offline.ms, 1), 'count(*) of devices', fmt(count.ms, 1), fmt(offline.ms / count.ms, 2)],
    ]);
  } finally {
    await drop();
    await db.close();
  }
}
