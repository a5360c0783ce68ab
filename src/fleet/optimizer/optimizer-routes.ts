import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { HttpProblem } from '../../platform/problem.ts';
import { auditRequest } from '../../auth/audit.ts';
import { DEVICE_ID } from '../messages.ts';
import { FLEET_ACCESS } from '../fleet-routes.ts';
import { getDevice } from '../device-repository.ts';
import { getSeriesByKey } from '../../grid/series-repository.ts';
import { tariffSchema } from '../prices/tariff.ts';
import { problem } from '../fleet-schemas.ts';

/** A device's tariff as the optimizer plans it, with the carbon price it plans CO2 at. */
const [dynamicTariff, touTariff, flatTariff] = tariffSchema.options;
const deviceTariff = z.object({
  // strict, as every fleet body: an unknown field (a misspelt `adder`) is refused naming it, never silently dropped
  tariff: z.discriminatedUnion('kind', [dynamicTariff.strict(), touTariff.strict(), flatTariff.strict()]).describe('dynamic (a price series key + adders $/kWh), tou (local hours, weekdays, months → $/kWh) or flat ($/kWh); exportCredit same | fixed rate | none'),
  carbonPrice: z.number().min(0).max(10_000).default(0).describe('$ per tonne CO2, priced with the newest intensity forecast of the device\'s BA'),
}).strict();

const outcome = z.object({
  cost: z.number().describe('$ paid for energy over the period (imports − export credits)'),
  co2Kg: z.number().nullable().describe('kg CO2 of the grid energy at the actual intensity; null when intensities were unknown'),
  throughputKWh: z.number().describe('kWh charged + discharged'),
});
const backtest = z.object({
  id: z.number(), madeAt: z.string(),
  hours: z.number(),
  noBattery: outcome, rule: outcome, optimized: outcome.extend({ fallbackHours: z.number().describe('hours the solver failed and the rule planned') }), perfect: outcome,
  savingsPct: z.number().describe('(noBattery − optimized) / noBattery × 100'),
  pctOfPerfect: z.number().describe('(noBattery − optimized) / (noBattery − perfect) × 100'),
  params: z.record(z.string(), z.unknown()).describe('what the backtest ran on: prices, period, battery, load, tariff, carbon price, intensity source, the day-ahead publication rule'),
  pareto: z.array(z.object({ carbonPrice: z.number().describe('$/t CO2'), cost: z.number().describe('$'), co2Kg: z.number().nullable() })).optional(),
});
const devicePlan = z.object({
  deviceId: z.string(), madeAt: z.string(), startsAt: z.string(), method: z.enum(['lp', 'rule-fallback']), fallbackReason: z.string().nullable(),
  costUsd: z.number().describe('expected cost of the plan over its horizon, $'),
  noBatteryCostUsd: z.number().describe('the same hours without the battery, $'),
  co2Kg: z.number().nullable(), noBatteryCo2Kg: z.number().nullable(),
});

const iso = (v: Date | string) => new Date(v).toISOString();
const num = (v: number | string | null) => (v === null ? null : Number(v));

/**
 * The optimizer's figures: GET /api/v1/optimizer/backtest (public: the newest stored backtest, `gridpulse optimize
 * backtest --save`, with its baselines and Pareto sweep) and GET /api/v1/optimizer/savings (analysts, operators,
 * admins: each device's newest plan against no battery, and the fleet's daily totals of the last plan per device and
 * day).
 */
export function optimizerRoutes(app: FastifyInstance, db: Db): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const deviceParams = z.object({ id: z.string().regex(DEVICE_ID, 'a device id') });
  /** 404 "no device" for an id that names none, before any question about its tariff (the same answer as every fleet route). */
  const knownDevice = async (id: string) => { if (!(await getDevice(db, id))) throw new HttpProblem(404, `id: no device ${id}`, 'id'); };

  r.get('/api/v1/devices/:id/tariff', {
    config: { access: FLEET_ACCESS },
    schema: { summary: 'A device\'s tariff and carbon price as the optimizer plans them (404 when none is set: the device is not opted in and the optimizer does not plan it)',
      description: '404 names which: no such device, or a device with no tariff set.', params: deviceParams, response: { 200: deviceTariff, 404: problem } },
  }, async (req) => {
    await knownDevice(req.params.id);
    const [row] = await db.query<{ tariff: Record<string, unknown> }>('SELECT tariff FROM device_tariffs WHERE device_id = $1', [req.params.id]);
    if (!row) throw new HttpProblem(404, `id: device ${req.params.id} has no tariff set`, 'id');
    const raw = row.tariff;
    return { tariff: tariffSchema.parse(raw), carbonPrice: typeof raw.carbonPrice === 'number' ? raw.carbonPrice : 0 };
  });

  r.put('/api/v1/devices/:id/tariff', {
    config: { access: FLEET_ACCESS },
    schema: {
      summary: 'Set a device\'s tariff and carbon price: this OPTS THE DEVICE IN to the optimizer; the next re-plan (every 5 minutes) uses them',
      description: 'The optimizer plans only devices with a tariff (DELETE opts out). Its plans have priority −1: an operator\'s or a market dispatch\'s unfinished schedule '
        + '(any priority 0–1,000) is never superseded by a re-plan, and any operator schedule supersedes the optimizer\'s. A re-plan materially the same as the device\'s '
        + 'current version (same actions, power within 0.1 kW or 5 %, targets within 5 points) issues no new version.',
      params: deviceParams, body: deviceTariff, response: { 200: deviceTariff, 404: problem } },
  }, async (req) => {
    await knownDevice(req.params.id);
    const { tariff, carbonPrice } = req.body;
    if (tariff.kind === 'dynamic') {
      const s = await getSeriesByKey(db, tariff.priceSeries);
      if (!s || s.type !== 'price') throw new HttpProblem(400, `tariff/priceSeries: no price series '${tariff.priceSeries}' (import one with gridpulse prices import or the data API)`, 'tariff/priceSeries');
    }
    await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO device_tariffs (device_id, tariff, updated_at) VALUES ($1, $2::text::jsonb, now())
        ON CONFLICT (device_id) DO UPDATE SET tariff = EXCLUDED.tariff, updated_at = now()`,
      [req.params.id, JSON.stringify({ ...tariff, carbonPrice })]);
      await auditRequest(tx, req, { action: 'fleet.devices.tariff', outcome: 'success', objectType: 'device', objectId: req.params.id, detail: { kind: tariff.kind, carbonPrice } });
    });
    return { tariff, carbonPrice };
  });

  r.delete('/api/v1/devices/:id/tariff', {
    config: { access: FLEET_ACCESS },
    schema: { summary: 'Remove a device\'s tariff: opts the device out of the optimizer (its current schedule stays; no new plan is issued)',
      description: '404 names which: no such device, or a device with no tariff set.', params: deviceParams, response: { 204: z.null(), 404: problem } },
  }, async (req, reply) => {
    await knownDevice(req.params.id);
    await db.transaction(async (tx) => {
      const gone = await tx.query('DELETE FROM device_tariffs WHERE device_id = $1 RETURNING device_id', [req.params.id]);
      if (gone.length === 0) throw new HttpProblem(404, `id: device ${req.params.id} has no tariff set`, 'id');
      await auditRequest(tx, req, { action: 'fleet.devices.tariff', outcome: 'success', objectType: 'device', objectId: req.params.id, detail: { removed: true } });
    });
    return reply.code(204).send(null);
  });

  r.get('/api/v1/optimizer/backtest', {
    config: { access: { public: true } },
    schema: {
      summary: 'The newest stored optimizer backtest: no battery, the rule, the optimizer (planning on what was known) and perfect foresight, with the carbon-price sweep',
      response: { 200: z.object({ data: backtest }) },
    },
  }, async () => {
    const [row] = await db.query<{ id: number | string; made_at: Date | string; result: Record<string, unknown> }>('SELECT id, made_at, result FROM optimizer_backtests ORDER BY made_at DESC, id DESC LIMIT 1');
    if (!row) throw new HttpProblem(404, 'no stored backtest yet: run gridpulse optimize backtest … --save');
    const res = row.result;
    return { data: { ...(res as z.infer<typeof backtest>), id: Number(row.id), madeAt: iso(row.made_at) } };
  });

  r.get('/api/v1/optimizer/savings', {
    config: { access: { roles: ['analyst', 'operator', 'admin'] } },
    schema: {
      summary: 'Each device\'s newest plan against no battery, and the fleet\'s daily totals (last plan per device and UTC day of its start)',
      response: { 200: z.object({
        devices: z.array(devicePlan),
        daily: z.array(z.object({ day: z.string(), devices: z.number(), costUsd: z.number(), noBatteryCostUsd: z.number(), co2Kg: z.number().nullable(), noBatteryCo2Kg: z.number().nullable() })),
      }) },
    },
  }, async () => {
    type Row = { device_id: string; made_at: Date | string; starts_at: Date | string; method: 'lp' | 'rule-fallback'; fallback_reason: string | null; cost_usd: number; no_battery_cost_usd: number; co2_kg: number | null; no_battery_co2_kg: number | null };
    const latest = await db.query<Row>(`SELECT DISTINCT ON (device_id) device_id, made_at, starts_at, method, fallback_reason, cost_usd, no_battery_cost_usd, co2_kg, no_battery_co2_kg
      FROM optimizer_plans ORDER BY device_id, made_at DESC, id DESC LIMIT 5000`);
    const daily = await db.query<{ day: string; devices: number | string; cost: number; nob: number; co2: number | null; nobco2: number | null }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, count(*) AS devices, sum(cost_usd) AS cost, sum(no_battery_cost_usd) AS nob, sum(co2_kg) AS co2, sum(no_battery_co2_kg) AS nobco2
         FROM (SELECT DISTINCT ON (device_id, date_trunc('day', starts_at AT TIME ZONE 'UTC')) date_trunc('day', starts_at AT TIME ZONE 'UTC') AS day, cost_usd, no_battery_cost_usd, co2_kg, no_battery_co2_kg
                 FROM optimizer_plans ORDER BY device_id, date_trunc('day', starts_at AT TIME ZONE 'UTC'), made_at DESC, id DESC) last
        GROUP BY day ORDER BY day DESC LIMIT 90`);
    return {
      devices: latest.map((x) => ({
        deviceId: x.device_id, madeAt: iso(x.made_at), startsAt: iso(x.starts_at), method: x.method, fallbackReason: x.fallback_reason,
        costUsd: Number(x.cost_usd), noBatteryCostUsd: Number(x.no_battery_cost_usd), co2Kg: num(x.co2_kg), noBatteryCo2Kg: num(x.no_battery_co2_kg),
      })),
      daily: daily.map((d) => ({ day: d.day, devices: Number(d.devices), costUsd: Number(d.cost), noBatteryCostUsd: Number(d.nob), co2Kg: num(d.co2), noBatteryCo2Kg: num(d.nobco2) })),
    };
  });
}
