import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { BalancingAuthority } from '../grid/ba-repository.ts';
import type { EiaPoint } from './eia-schema.ts';
import { PointStore, pointSeries } from './store-points.ts';
import { finishRun, startRun, type RunTotals } from './run-ledger.ts';
import { checkTouched } from './check-runner.ts';
import { seeded } from '../platform/random.ts';

function hash(s: string): number {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

function localHour(ts: Date, tz: string): number {
  return Number(new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: 'numeric', hourCycle: 'h23' }).format(ts));
}

/**
 * Plausible hourly demand, day-ahead forecast, net generation and fuel mix for one BA:
 * a daily demand curve peaking in the local evening, solar following the sun, noisy wind,
 * must-run nuclear and hydro, and gas (then coal) dispatched to balance.
 */
export function simulateBa(ba: BalancingAuthority, from: Date, hours: number): EiaPoint[] {
  const rand = seeded(hash(ba.code));
  const scale = 500 + rand() * (ba.code === 'PJM' || ba.code === 'MISO' || ba.code === 'ERCO' ? 80_000 : ba.code === 'CISO' ? 30_000 : 8_000);
  const solarShare = ba.region === 'CAL' || ba.region === 'SW' ? 0.35 : ba.region === 'TEX' ? 0.2 : 0.08 * rand();
  const windShare = ba.region === 'CENT' || ba.region === 'TEX' ? 0.3 : 0.1 * rand();
  const nuclearShare = rand() < 0.5 ? 0.2 * rand() : 0;
  const hydroShare = ba.region === 'NW' ? 0.5 : 0.05 * rand();
  const coalFrac = ba.region === 'MIDW' || ba.region === 'CENT' || ba.region === 'SE' ? 0.5 : 0.1;
  const out: EiaPoint[] = [];
  let wind = 0.5;
  for (let h = 0; h < hours; h++) {
    const ts = new Date(from.getTime() + h * 3_600_000);
    const lh = localHour(ts, ba.timeZone);
    const shape = 0.75 + 0.15 * Math.sin(((lh - 10) / 24) * 2 * Math.PI) + 0.1 * Math.exp(-((lh - 19) ** 2) / 6);
    const demand = Math.round(scale * shape * (0.97 + 0.06 * rand()));
    const forecast = Math.round(demand * (0.96 + 0.08 * rand()));
    const sun = Math.max(0, Math.sin(((lh - 6) / 13) * Math.PI)) * (lh >= 6 && lh <= 19 ? 1 : 0);
    wind = Math.min(1, Math.max(0.05, wind + (rand() - 0.5) * 0.15));
    const solar = Math.round(scale * solarShare * 2 * sun);
    // gusts on top of the slow random walk keep the clamped extremes from reading as a stuck meter
    const windMw = Math.round(scale * windShare * 2 * wind * (0.95 + 0.1 * rand()));
    const nuclear = Math.round(scale * nuclearShare);
    const hydro = Math.round(scale * hydroShare * (0.8 + 0.4 * shape) * (0.97 + 0.06 * rand()));
    const rest = Math.max(0, demand - solar - windMw - nuclear - hydro);
    const coal = Math.round(rest * coalFrac);
    const gas = rest - coal;
    const fuels: Record<string, number> = { SUN: solar, WND: windMw, NUC: nuclear, WAT: hydro, COL: coal, NG: gas };
    const ng = Object.values(fuels).reduce((a, b) => a + b, 0);
    const point = (route: EiaPoint['route'], code: string, value: number): EiaPoint => ({ route, ba: ba.code, code, ts, value });
    if (!ba.generationOnly) out.push(point('region', 'D', demand), point('region', 'DF', forecast));
    out.push(point('region', 'NG', ng), point('region', 'TI', ba.generationOnly ? ng : ng - demand));
    // a fuel the BA has is reported every hour (zero when idle), so an absent hour is a real gap
    for (const [code, v] of Object.entries(fuels)) if (code !== 'NUC' || nuclear > 0) out.push(point('fuel', code, v));
  }
  return out;
}

/** Fills the store with a clearly labelled simulated grid (source=simulated) for the BAs and hours. */
export async function loadSimulatedGrid(deps: { db: Db; logger: Logger }, bas: BalancingAuthority[], from: Date, hours: number): Promise<RunTotals & { runId: number }> {
  const runId = await startRun(deps.db, 'simulated', 'simulated', { from: from.toISOString(), hours, bas: bas.length });
  const logger = deps.logger.child({ runId });
  const store = new PointStore(deps.db, logger, 'simulated');
  const t: RunTotals = { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [] };
  for (const ba of bas) {
    const points = simulateBa(ba, from, hours);
    const r = await store.store(points);
    t.fetched += points.length; t.inserted += r.inserted; t.updated += r.updated; t.rejected += r.rejected;
  }
  await checkTouched({ db: deps.db, logger }, t, { bas: bas.map((b) => b.code), from, to: new Date(from.getTime() + (hours - 1) * 3_600_000), runId });
  await finishRun(deps.db, runId, t);
  return { ...t, runId };
}

/**
 * Backfills a gap of the simulated grid: only hours that have no row are written, so the
 * simulated history around the gap is left as it was.
 */
export async function fillSimulatedGap(deps: { db: Db; logger: Logger }, ba: BalancingAuthority, route: EiaPoint['route'], from: Date, to: Date): Promise<RunTotals & { runId: number }> {
  const hours = Math.floor((to.getTime() - from.getTime()) / 3_600_000) + 1;
  const runId = await startRun(deps.db, 'backfill', 'simulated', { bas: [ba.code], from: from.toISOString(), to: to.toISOString(), routes: [route] });
  const logger = deps.logger.child({ runId });
  const stored = await deps.db.query<{ type: string; subtype: string; ts: Date | string }>(
    `SELECT s.type, s.subtype, o.ts FROM observations o JOIN series s ON s.id = o.series_id
     WHERE s.ba_code = $1 AND o.ts >= $2 AND o.ts <= $3`, [ba.code, from, to]);
  const have = new Set(stored.map((r) => `${r.type}|${r.subtype}|${new Date(r.ts).getTime()}`));
  const points = simulateBa(ba, from, hours).filter((p) => {
    const { type, subtype } = pointSeries(p);
    return p.route === route && !have.has(`${type}|${subtype}|${p.ts.getTime()}`);
  });
  const r = await new PointStore(deps.db, logger, 'simulated').store(points);
  const t: RunTotals = { fetched: points.length, inserted: r.inserted, updated: r.updated, rejected: r.rejected, requests: 0, retries: 0, errors: [] };
  await checkTouched({ db: deps.db, logger }, t, { bas: [ba.code], from, to, runId });
  await finishRun(deps.db, runId, t);
  return { ...t, runId };
}
