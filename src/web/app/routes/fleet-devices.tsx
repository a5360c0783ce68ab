import { Form, Link, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';
import { part } from '../lib/loaders.ts';
import { Missing } from '../components/missing.tsx';
import { useFleetLive } from '../lib/live.ts';
import { FLEET_COUNT_RULE, FLEET_PAGE_ROLES, inFleet, kw, pct, type Device } from '../lib/fleet-api.ts';
import { LiveBadge, shownStatus, StatusBadge } from '../components/fleet-parts.tsx';
import { agoLabel } from '../lib/time.ts';
import { queryChoice } from '../lib/page-query.ts';

export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'Fleet devices · GridPulse' }, { name: 'robots', content: 'noindex' }];

export const access: PageAccess = FLEET_PAGE_ROLES;

const STATUSES = ['all', 'online', 'offline', 'never-seen'] as const;

export async function loader({ context, request }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const params = new URL(request.url).searchParams;
  const status = queryChoice(params, 'status', STATUSES) ?? 'all';
  const devices = await web.call<{ data: Device[] }>('GET', '/api/v1/devices?limit=1000');
  const now = web.now();
  // one count rule with /fleet and GET /api/v1/fleet/summary: a revoked device is not in the fleet
  const rows = devices.ok ? devices.data.data.filter(inFleet).map((d) => ({ ...d, shown: shownStatus(d) })) : [];
  const revoked = devices.ok ? devices.data.data.length - rows.length : 0;
  return { devices: part(devices), rows: status === 'all' ? rows : rows.filter((r) => r.shown === status), total: rows.length, revoked, status, now: now.toISOString() };
}

export default function FleetDevices() {
  const d = useLoaderData<typeof loader>();
  const live = useFleetLive();
  const now = Date.parse(d.now);
  return (
    <section>
      <h1>Fleet devices</h1>
      <p><Link to="/fleet">Fleet overview</Link>. Status is live: a device is online while its last status said so and it showed a sign of life in the last few minutes. <LiveBadge live={live} /></p>
      <Form method="get" className="filters">
        <label>Status <select name="status" defaultValue={d.status}>{STATUSES.map((s) => <option key={s} value={s}>{s === 'never-seen' ? 'never seen' : s}</option>)}</select></label>
        <button type="submit">Show</button>
      </Form>
      {!d.devices.ok ? <Missing what="The device list" part={d.devices} /> : d.rows.length === 0 ? <p>{d.total === 0 ? 'No devices yet: provision one with `gridpulse devices create --name …` or POST /api/v1/devices.' : 'No device has this status.'}</p> : (
        <div className="table-scroll">
          <table className="devices">
            <caption>{d.rows.length} of {d.total} devices ({FLEET_COUNT_RULE}{d.revoked ? `; ${d.revoked} revoked not shown` : ''})</caption>
            <thead><tr><th scope="col">Device</th><th scope="col">Status</th><th scope="col">SoC</th><th scope="col">Power</th><th scope="col">Last seen</th><th scope="col">Schedule version (desired / confirmed / executing)</th><th scope="col">BA</th><th scope="col">Capacity</th></tr></thead>
            <tbody>{d.rows.map((r) => (
              <tr key={r.id} data-device={r.id} data-status={r.shown}>
                <th scope="row"><Link to={`/fleet/devices/${r.id}`}>{r.name}</Link> <code>{r.id}</code></th>
                <td><StatusBadge status={r.shown} /></td>
                <td className="num">{pct(r.reported.socPct)}</td><td className="num">{kw(r.reported.powerKw)}</td>
                <td>{r.lastSeenAt ? agoLabel((now - Date.parse(r.lastSeenAt)) / 60_000) : 'never'}</td>
                <td className="num">{r.desiredVersion} / {r.confirmedVersion} / {r.reported.version ?? '—'}</td>
                <td>{r.baCode ?? '—'}</td><td className="num">{r.capacityKwh} kWh, {r.maxChargeKw}/{r.maxDischargeKw} kW</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}
