import { Form, Link, useActionData, useLoaderData, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { CsrfField } from '../components/csrf-field.tsx';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';
import { field } from '../lib/account-api.ts';
import { part } from '../lib/loaders.ts';
import { Missing } from '../components/missing.tsx';
import { useFleetLive } from '../lib/live.ts';
import { FLEET_COUNT_RULE, FLEET_PAGE_ROLES, kw, pct, type FleetHistoryPoint, type FleetSummary, type OfflineDevice, type Rollout, type Submitted } from '../lib/fleet-api.ts';
import { LiveBadge, RolloutTable, SocPowerCharts } from '../components/fleet-parts.tsx';
import { dateTimeLabel } from '../lib/time.ts';
import { scheduleRequest } from '../lib/fleet-forms.ts';

/** Operator pages are never stored by browsers or shared caches. */
export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'Fleet · GridPulse' }, { name: 'robots', content: 'noindex' }];

export const access: PageAccess = FLEET_PAGE_ROLES;

export async function loader({ context, request }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const [summary, rollouts, offline, history] = await Promise.all([
    web.call<FleetSummary>('GET', '/api/v1/fleet/summary'),
    web.call<{ data: Rollout[] }>('GET', '/api/v1/rollouts?limit=20'),
    web.call<{ at: string; data: OfflineDevice[] }>('GET', '/api/v1/fleet/offline?limit=50'),
    web.call<{ bucketMinutes: number; data: FleetHistoryPoint[] }>('GET', '/api/v1/fleet/history?hours=6&bucket=5'),
  ]);
  const now = web.now();
  // the form's default start: the next whole 5 minutes after a 5-minute lead, in UTC (datetime-local has no zone)
  const start = new Date(Math.ceil((now.getTime() + 5 * 60_000) / 300_000) * 300_000).toISOString().slice(0, 16);
  return { summary: part(summary), rollouts: part(rollouts), offline: part(offline), history: part(history), now: now.toISOString(), start };
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
      const res = await web.call<Submitted>('POST', req.path, req.body);
      return res.ok ? { ok: req.done(res.data) } : { error: res.detail };
    }
    default: return { error: 'unknown action' };
  }
}

function Cards({ s }: { s: FleetSummary }) {
  const v = s.versions24h;
  return (
    <div className="cards">
      <div className="card" data-card="devices"><h3>Devices</h3>
        <p className="big"><span data-online>{s.online}</span> online</p>
        <p><span data-offline>{s.offline}</span> offline · <span data-never-seen>{s.neverSeen}</span> never seen · {s.devices} in all ({FLEET_COUNT_RULE})</p>
      </div>
      <div className="card" data-card="soc"><h3>Fleet state of charge</h3>
        <p className="big">{pct(s.socPct)}</p>
        <p>{s.storedKwh.toFixed(1)} kWh stored of {s.capacityKwh.toFixed(0)} kWh nameplate (capacity-weighted, last reported)</p>
      </div>
      <div className="card" data-card="power"><h3>Fleet power now</h3>
        <p className="big">{kw(s.powerKw)}</p>
        <p>sum of the last reported power; + charges, − discharges</p>
      </div>
      <div className="card" data-card="commands"><h3>Command success rate</h3>
        <p className="big" data-success={`${v.succeeded}/${v.finished}`}>{v.succeeded}/{v.finished} succeeded{v.successPct === null ? '' : ` (${pct(v.successPct)})`}</p>
        <p>Of the {v.finished} versions issued in the last 24 h that finished (succeeded, failed or timed out): {v.succeeded} succeeded, {v.failed} failed, {v.timedOut} timed out. {v.issued - v.finished} of the {v.issued} issued are still in flight or were superseded and are not counted.</p>
      </div>
    </div>
  );
}

function OfflineAlert({ offline, total, at }: { offline: OfflineDevice[]; total: number; at: string }) {
  if (offline.length === 0) return <p role="status" data-offline-alert="none">No device is offline.</p>;
  return (
    <div className="notice" role="alert" data-offline-alert={offline.length}>
      <p><strong>{offline.length} device{offline.length === 1 ? ' is' : 's are'} offline</strong> (a Last Will received, or silent for more than three minutes). They keep running their cached or fallback schedule.</p>
      <ul>{offline.slice(0, 10).map((d) => (
        <li key={d.id} data-offline-device={d.id}><Link to={`/fleet/devices/${d.id}`}>{d.name}</Link> <code>{d.id}</code>{d.offlineSince ? ` — offline since ${dateTimeLabel(d.offlineSince, 'UTC')} UTC` : ''}</li>
      ))}</ul>
      {offline.length > 10 ? <p>… and {offline.length - 10} more on the <Link to="/fleet/devices?status=offline">device list</Link>.</p> : null}
      <p>Be told by webhook: <Link to="/account/alerts">create a “devices offline” alert</Link>. {total} devices in all; checked {dateTimeLabel(at, 'UTC')} UTC.</p>
    </div>
  );
}

const ACTIONS = ['charge', 'discharge', 'idle', 'hold-soc'];


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
      <label className="check"><input type="checkbox" name="ramp" value="exponential" /> exponential ramp (a tenth of the rate first, doubling each minute)</label>
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
      {!d.summary.ok ? <Missing what="The fleet summary" part={d.summary} /> : <Cards s={d.summary.data} />}
      <h2>Offline devices</h2>
      {!d.offline.ok ? <Missing what="The offline devices" part={d.offline} /> : <OfflineAlert offline={d.offline.data.data} total={d.summary.ok ? d.summary.data.devices : 0} at={d.offline.data.at} />}
      <h2>Rollouts</h2>
      {!d.rollouts.ok ? <Missing what="The rollouts" part={d.rollouts} /> : <RolloutTable rollouts={d.rollouts.data.data} caption="Newest first: progress is the share of the target devices that answered (acknowledged or further, failed), timed out or were skipped" />}
      <h2>Over time</h2>
      {!d.history.ok ? <Missing what="The fleet's history" part={d.history} /> : <SocPowerCharts id="fleet" what="Fleet, last 6 hours:" points={d.history.data.data}
        socNote={<p className="muted">From the devices’ telemetry: per device the mean of each 5 minutes, weighted by usable capacity.</p>}
        powerNote={<p className="muted">Sum of the devices’ mean power in each 5 minutes.</p>} />}
      <h2>Send a schedule</h2>
      <p>One interval to one device, a group or the whole fleet; to a group or the fleet it goes out as a rollout at the rate given, stopped when more than the given share of the devices reached fail or time out. A schedule a device cannot execute (over its power, SoC out of its limits) is refused with the interval named, and nothing is sent.</p>
      <ScheduleForm start={d.start} />
    </section>
  );
}
