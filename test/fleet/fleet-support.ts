import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/app.ts';
import { memoryCache } from '../../src/platform/cache.ts';
import { migrate } from '../../src/platform/migrate.ts';
import type { Db } from '../../src/platform/db.ts';
import { RecordingFleetBus } from '../../src/fleet/testing/recording-bus.ts';
import { loopSettings, type LoopSettings } from '../../src/fleet/distribution.ts';
import type { DeviceCredentials } from '../../src/fleet/contract.ts';
import type { FleetDeps } from '../../src/fleet/fleet-routes.ts';
import type { TestDb } from '../support/databases.ts';
import { authHeaders } from '../support/auth.ts';

/** A clock tests move by hand: the API's checks, the ledger and the loops all read it. */
export class FakeClock {
  t: number;
  constructor(start = Date.parse('2026-12-01T00:00:00Z')) { this.t = start; }
  now = () => this.t;
  advance(ms: number): void { this.t += ms; }
  at(minutes: number): string { return new Date(this.t + minutes * 60_000).toISOString(); }
}

export interface FleetTestApp {
  db: Db; app: FastifyInstance; bus: RecordingFleetBus; clock: FakeClock; s: LoopSettings; operator: { authorization: string };
  /** the first round of a rollout, which POST /api/v1/schedules starts after answering 202: the versions it issued */
  firstRound(rolloutId: string): Promise<number>;
}

/** The whole app on a migrated test database with a recording bus and a fake clock, and an operator signed in; `deps` adds fleet dependencies (e.g. the HTTP fallback's stores). */
export async function openFleetApp(target: TestDb, deps?: (db: Db, clock: FakeClock) => FleetDeps): Promise<FleetTestApp> {
  const db = await target.open();
  await migrate(db);
  const bus = new RecordingFleetBus();
  const clock = new FakeClock();
  const loops = { now: clock.now, republishMs: 30_000, maxRepublishMs: 240_000, ackTimeoutMs: 600_000, finishGraceMs: 300_000 };
  const rounds = new Map<string, Promise<number>>();
  const app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache(), fleet: { bus, loops, rolloutKicked: (id, round) => { rounds.set(id, round); }, ...deps?.(db, clock) } });
  const operator = await authHeaders(app, db, 'operator');
  const firstRound = (id: string) => rounds.get(id) ?? Promise.reject(new Error(`no first round started for rollout ${id}`));
  return { db, app, bus, clock, s: loopSettings(loops), operator, firstRound };
}

/** Provisions a device through the API; its credentials and `Authorization` headers of its HTTP key. */
export async function provision(t: FleetTestApp, body: Record<string, unknown> = {}): Promise<DeviceCredentials & { headers: { authorization: string } }> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/devices', headers: t.operator, payload: { name: 'test battery', capacityKwh: 10, maxChargeKw: 5, maxDischargeKw: 5, ...body } });
  if (res.statusCode !== 201) throw new Error(`provisioning failed: ${res.statusCode} ${res.body}`);
  const c = res.json<{ credentials: DeviceCredentials }>().credentials;
  return { ...c, headers: { authorization: `Bearer ${c.apiKey}` } };
}

/** Reports a SoC over the HTTP fallback, as the device. */
export async function reportSoc(t: FleetTestApp, d: { id: string; headers: { authorization: string } }, socPct: number, seq = 1): Promise<void> {
  const res = await t.app.inject({
    method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: d.headers,
    payload: { schema: 'gridpulse.telemetry/1', deviceId: d.id, at: new Date(t.clock.now()).toISOString(), seq, socPct, powerKw: 0, scheduleVersion: 0, mode: 'hold-soc' },
  });
  if (res.statusCode !== 200) throw new Error(`telemetry failed: ${res.statusCode} ${res.body}`);
}

export const ack = (deviceId: string, version: number, state: 'acknowledged' | 'executing' | 'succeeded' | 'failed' | 'rejected', at: string, seq: number, reason?: string) =>
  ({ schema: 'gridpulse.ack/1' as const, deviceId, version, state, at, seq, ...(reason ? { reason } : {}) });
