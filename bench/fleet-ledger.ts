import { issueVersions } from '../src/fleet/schedule-versions.ts';
import { applyAcks } from '../src/fleet/ledger.ts';
import { ROLLOUT_CHUNK, runRollouts, scheduleRequest, submitSchedule } from '../src/fleet/rollouts.ts';
import { loopSettings } from '../src/fleet/distribution.ts';
import type { AckMessage } from '../src/fleet/messages.ts';
import { envInt, fmt, openEngineDb, printTable, timed } from './support.ts';

/**
 * The fleet's database side at fleet size (issue 14: ≥ 20,000 acks/s into the ledger):
 * (1) applying FLEET_DEVICES × 3 acknowledgements (acknowledged, executing, succeeded) with applyAcks in the
 *     gateway's batches of FLEET_BATCH, against the reference of COPYing the same ack rows into a bare table;
 * (2) issuing one new schedule version to every device in one round (validation, supersede, insert, desired
 *     version, NOTIFY), against the reference of COPYing the same number of version rows into a bare table.
 * PGlite by default; PostgreSQL with DATABASE_URL (the figure that matters).
 */
export async function benchFleetLedger(): Promise<void> {
  const n = envInt('FLEET_DEVICES', 10_000);
  const batch = envInt('FLEET_BATCH', 1_000);
  const { db, drop } = await openEngineDb('bench_fleet');
  try {
    await db.query(`INSERT INTO devices (id, name, capacity_kwh, max_charge_kw, max_discharge_kw, mqtt_password_hash, soc_pct, telemetry_at)
                    SELECT 'bench-' || lpad(g::text, 6, '0'), 'bench', 10, 5, 5, 'x', 50, now() FROM generate_series(1, $1::int) g`, [n]);
    const ids = (await db.query<{ id: string }>('SELECT id FROM devices ORDER BY id')).map((r) => r.id);
    const now = Date.now();
    const intervals = [{ start: new Date(now + 60_000).toISOString(), end: new Date(now + 3_660_000).toISOString(), action: 'charge' as const, powerKw: 2 }];
    const issue = await timed(() => db.transaction((tx) => issueVersions(tx, { deviceIds: ids, intervals, priority: 0, now, republishMs: 30_000 })));
    await db.query('CREATE TEMP TABLE bench_versions (device_id text, version int, priority int, intervals jsonb, fallback text, starts_at timestamptz, ends_at timestamptz, issued_at timestamptz)');
    const json = JSON.stringify(intervals);
    const copyVersions = await timed(() => db.transaction((tx) => tx.copyInto('bench_versions', ['device_id', 'version', 'priority', 'intervals', 'fallback', 'starts_at', 'ends_at', 'issued_at'],
      ids.map((id) => [id, 1, 0, json, 'hold-soc', intervals[0]!.start, intervals[0]!.end, new Date(now)]))));

    const acks: AckMessage[] = [];
    let seq = 0;
    for (const state of ['acknowledged', 'executing', 'succeeded'] as const) {
      for (const id of ids) acks.push({ schema: 'gridpulse.ack/1', deviceId: id, version: 1, state, at: new Date(now + seq).toISOString(), seq: seq++ });
    }
    let applied = 0;
    const apply = await timed(async () => {
      for (let i = 0; i < acks.length; i += batch) applied += (await applyAcks(db, acks.slice(i, i + batch))).applied;
    });
    await db.query('CREATE TEMP TABLE bench_acks (device_id text, version int, state text, at timestamptz, seq bigint, reason text)');
    const copyAcks = await timed(async () => {
      for (let i = 0; i < acks.length; i += batch) {
        await db.transaction((tx) => tx.copyInto('bench_acks', ['device_id', 'version', 'state', 'at', 'seq', 'reason'],
          acks.slice(i, i + batch).map((a) => [a.deviceId, a.version, a.state, a.at, a.seq, null])));
      }
    });
    const [done] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM schedule_versions WHERE state = 'succeeded'`);
    // (3) the same through the rollout runner, as a fleet schedule is issued (the API's check of every device, then
    // the runner's round in chunks, each its own transaction; no bus: issuing alone, the fan-out bench adds the rest)
    const s = loopSettings();
    const chunk = envInt('FLEET_ROLLOUT_CHUNK', ROLLOUT_CHUNK);
    const fleetReq = scheduleRequest.parse({ fleet: true, rollout: { maxPerMinute: 1_000_000 }, intervals: [{ start: new Date(now + 120_000).toISOString(), end: new Date(now + 3_720_000).toISOString(), action: 'idle' }] });
    const rollout = await timed(async () => {
      const r = await db.transaction((tx) => submitSchedule(tx, fleetReq, { now: Date.now(), republishMs: s.republishMs, createdBy: null }));
      const t = performance.now();
      const issued = await runRollouts(db, undefined, s, undefined, r.kind === 'rollout' ? r.rolloutId : undefined, chunk);
      return { issued, roundMs: performance.now() - t };
    });
    printTable(`Fleet ledger on ${db.kind}: ${fmt(n)} devices`, ['work', 'count', 'time ms', 'per second', 'reference', 'reference ms', 'ratio'], [
      [`applyAcks in batches of ${fmt(batch)} (${fmt(Number(done!.n))} versions reached succeeded)`, `${fmt(applied)} acks`, fmt(apply.ms), fmt((acks.length / apply.ms) * 1000),
        'COPY of the same ack rows into a bare table', fmt(copyAcks.ms), fmt(apply.ms / copyAcks.ms, 2)],
      [`issue one version to every device (checked, superseding, one round)`, `${fmt(issue.result.messages.length)} versions`, fmt(issue.ms), fmt((n / issue.ms) * 1000),
        'COPY of the same version rows into a bare table', fmt(copyVersions.ms), fmt(issue.ms / copyVersions.ms, 2)],
      [`a fleet rollout: API check + the runner's round (chunks of ${fmt(chunk)}; round alone ${fmt(rollout.result.roundMs)} ms)`, `${fmt(rollout.result.issued)} versions`, fmt(rollout.ms), fmt((n / rollout.ms) * 1000),
        'COPY of the same version rows into a bare table', fmt(copyVersions.ms), fmt(rollout.ms / copyVersions.ms, 2)],
    ]);
  } finally {
    await drop();
    await db.close();
  }
}
