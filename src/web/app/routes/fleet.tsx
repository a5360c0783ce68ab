import { Form, Link, useActionData, useLoaderData, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { CsrfField } from '../components/csrf-field.tsx';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';
import { field } from '../lib/account-api.ts';
import { part } from '../lib/loaders.ts';
import { Missing } from '../components/missing.tsx';
import { useFleetLive } from '../lib/live.ts';
import { FLEET_PAGE_ROLES, kw, pct, type FleetHistoryPoint, type FleetOverview } from '../lib/fleet-api.ts';
import { LiveBadge, RolloutTable } from '../components/fleet-parts.tsx';
import { dateTimeLabel } from '../lib/time.ts';
import { scheduleRequest } from '../lib/fleet-forms.ts';
import { ChartBlock, type ChartSpec } from '../components/chart.tsx';

/** Operator pages are never stored by browsers or shared caches. */
export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'Fleet · GridPulse' }, { name: 'robots', content: 'noindex' }];

export const access: PageAccess = FLEET_PAGE_ROLES;

export async function loader({ context, request }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const [overview, history] = await Promise.all([
    web.call<FleetOverview>('GET', '/api/v1/fleet/overview'),
    web.call<{ bucketMinutes: number; data: FleetHistoryPoint[] }>('GET', '/api/v1/fleet/history?hours=6&bucket=5'),
  ]);
  const now = web.now();
  // the form's default start: the next whole 5 minutes after a 5-minute lead, in UTC (datetime-local has no zone)
  const start = new Date(Math.ceil((now.getTime() + 5 * 60_000) / 300_000) * 300_000).toISOString().slice(0, 16);
  return { overview: part(overview), history: part(history), now: now.toISOString(), start };
}

type Result = { ok?: string; error?: string };

export async function action({ request, context }: ActionFunctionArgs): Promise<Result> {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const form = await request.formData();
  switch (field(form, 'intent')) {
    case 'cancel': {
      const res = await web.call('POST', `/api/v1/rollouts/${encodeURIComponent(field(form, 'id'))}/cancel`);
      return res.ok ? { ok: 'Rollout cancelled: devices not yet issued will not receive it.' } : { error: res.detail };
    }
    case 'schedule': {
      const req = scheduleRequest(form);
      if ('error' in req) return req;
      const res = await web.call<{ id?: string; version?: number }>('POST', req.path, req.body);
      return res.ok ? { ok: req.done(res.data) } : { error: res.detail };
    }
    default: return { error: 'unknown action' };
  }
}

function Cards({ o }: { o: FleetOverview }) {
  return (
    <div className="cards">
      <div className="card" data-card="devices"><h3>Devices</h3>
        <p className="big"><span data-online>{o.devices.online}</span> online</p>
        <p><span data-offline>{o.devices.offline}</span> offline · {o.devices.neverSeen} never seen · {o.devices.total} in all</p>
      </div>
      <div className="card" data-card="soc"><h3>Fleet state of charge</h3>
        <p className="big">{pct(o.soc.fleetPct)}</p>
        <p>{o.soc.storedKwh === null ? '—' : `${o.soc.storedKwh.toFixed(1)} kWh`} stored; {o.soc.reporting} online devices reporting; {o.soc.capacityKwh.toFixed(0)} kWh nameplate in all</p>
      </div>
      <div className="card" data-card="power"><h3>Fleet power now</h3>
        <p className="big">{kw(o.power.netKw)}</p>
        <p>charging {kw(o.power.chargingKw)}, discharging {kw(o.power.dischargingKw)} ({o.power.reporting} reporting; + charges)</p>
      </div>
      <div className="card" data-card="commands"><h3>Command success rate</h3>
        <p className="big">{pct(o.commands.successRatePct)}</p>
        <p>last {o.commands.windowHours} h: {o.commands.succeeded} succeeded, {o.commands.failed} failed, {o.commands.timedOut} timed out; {o.commands.pending} in flight</p>
      </div>
    </div>
  );
}

function OfflineAlert({ o, now }: { o: FleetOverview; now: string }) {
  if (o.offline.length === 0) return <p role="status" data-offline-alert="none">No device is offline.</p>;
  return (
    <div className="notice" role="alert" data-offline-alert={o.offline.length}>
      <p><strong>{o.devices.offline} device{o.devices.offline === 1 ? ' is' : 's are'} offline</strong> (newest sign of life more than a few minutes ago, or a Last Will received). They keep running their cached or fallback schedule.</p>
      <ul>{o.offline.slice(0, 10).map((d) => (
        <li key={d.id}><Link to={`/fleet/devices/${d.id}`}>{d.name}</Link> <code>{d.id}</code>{d.offlineSince ? ` — offline since ${dateTimeLabel(d.offlineSince, 'UTC')} UTC` : ''}</li>
      ))}</ul>
      {o.offline.length > 10 ? <p>… and {o.offline.length - 10} more on the <Link to="/fleet/devices?status=offline">device list</Link>.</p> : null}
      <p>Be told by webhook: <Link to="/account/alerts">create a “devices offline” alert</Link>. Checked {dateTimeLabel(now, 'UTC')} UTC.</p>
    </div>
  );
}

const ACTIONS = ['charge', 'discharge', 'idle', 'hold-soc'];

function HistoryCharts({ points }: { points: FleetHistoryPoint[] }) {
  const ts = points.map((p) => p.ts);
  const soc: ChartSpec = { id: 'fleet-soc', title: 'Fleet state of charge, last 6 hours', unit: '%', ts, series: [{ label: 'SoC (capacity-weighted)', values: points.map((p) => p.socPct), colour: '#3d5a99' }] };
  const power: ChartSpec = { id: 'fleet-power', title: 'Fleet power, last 6 hours', unit: 'kW', ts, series: [{ label: 'power (+ charging, − discharging)', values: points.map((p) => p.powerKw), colour: '#1a7f37', fill: true }] };
  return (
    <>
      <ChartBlock spec={soc} timeZone="UTC" zoneLabel="UTC" step="5-minute" note={<p className="muted">From the devices’ telemetry: per device the mean of each 5 minutes, weighted by usable capacity.</p>} />
      <ChartBlock spec={power} timeZone="UTC" zoneLabel="UTC" step="5-minute" note={<p className="muted">Sum of the devices’ mean power in each 5 minutes.</p>} />
    </>
  );
}

function ScheduleForm({ start }: { start: string }) {
  return (
    <Form method="post" className="inline-form" aria-label="New schedule">
      <CsrfField /><input type="hidden" name="intent" value="schedule" />
      <label>Target <select name="target" defaultValue="fleet"><option value="fleet">the whole fleet (rollout)</option><option value="group">a group (rollout)</option><option value="device">one device</option></select></label>
      <label>Group or device id <input name="targetId" maxLength={64} size={20} /></label>
      <label>Start (UTC) <input type="datetime-local" name="start" required defaultValue={start} /></label>
      <label>Minutes <input type="number" name="minutes" min={5} max={2880} step={5} defaultValue={60} required /></label>
      <label>Action <select name="action" defaultValue="charge">{ACTIONS.map((a) => <option key={a}>{a}</option>)}</select></label>
      <label>Power (kW) <input type="number" name="powerKw" min={0} max={1000} step="any" defaultValue={2} /></label>
      <label>Target SoC (%) <input type="number" name="targetSoc" min={0} max={100} step="any" /></label>
      <label>Priority <input type="number" name="priority" min={0} max={100} step={1} defaultValue={0} /></label>
      <label>Devices per minute <input type="number" name="maxPerMinute" min={1} max={100000} step={1} defaultValue={1000} /></label>
      <label className="check"><input type="checkbox" name="ramp" value="exponential" /> exponential ramp</label>
      <label>Abort above (% failed or timed out) <input type="number" name="abortFailurePct" min={0} max={100} step="any" defaultValue={10} /></label>
      <button type="submit">Send schedule</button>
    </Form>
  );
}

export default function Fleet() {
  const d = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const live = useFleetLive();
  return (
    <section>
      <h1>Fleet</h1>
      <p>Home batteries run by GridPulse: their status, state of charge (SoC) and power, how their schedules are delivered, and the rollouts in progress. <Link to="/fleet/devices">Every device</Link>. <LiveBadge live={live} /></p>
      {result?.error ? <p className="notice" role="alert">{result.error}</p> : null}
      {result?.ok ? <p role="status">{result.ok}</p> : null}
      {!d.overview.ok ? <Missing what="The fleet overview" part={d.overview} /> : (
        <>
          <Cards o={d.overview.data} />
          <h2>Over time</h2>
          {!d.history.ok ? <Missing what="The fleet's history" part={d.history} /> : <HistoryCharts points={d.history.data.data} />}
          <h2>Offline devices</h2>
          <OfflineAlert o={d.overview.data} now={d.overview.data.at} />
          <h2>Rollouts</h2>
          <RolloutTable rollouts={d.overview.data.rollouts} caption="Running, and finished in the last day; newest first" />
        </>
      )}
      <h2>Send a schedule</h2>
      <p>One interval to one device, a group or the whole fleet; to a group or the fleet it goes out as a rollout at the rate given, stopped when more than the given share of the devices reached fail or time out. A schedule a device cannot execute (over its power, SoC out of its limits) is refused with the interval named, and nothing is sent.</p>
      <ScheduleForm start={d.start} />
    </section>
  );
}
