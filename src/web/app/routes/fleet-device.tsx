import { data, Link, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';
import { useFleetLive } from '../lib/live.ts';
import { FLEET_PAGE_ROLES, kw, pct, type DeviceDetail, type DevicePoint } from '../lib/fleet-api.ts';
import { LiveBadge, shownStatus, SocPowerCharts, StatusBadge } from '../components/fleet-parts.tsx';
import { ScheduleTimeline } from '../components/schedule-timeline.tsx';
import { dateTimeLabel } from '../lib/time.ts';
import { DEVICE_ID } from '../../../fleet/messages.ts';

export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction<typeof loader> = ({ loaderData: d }) => [{ title: `${d?.device.name ?? 'Device'} · Fleet · GridPulse` }, { name: 'robots', content: 'noindex' }];

export const access: PageAccess = FLEET_PAGE_ROLES;

export async function loader({ context, request, params }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const id = params.id ?? '';
  const personal = { 'Cache-Control': 'no-store' };
  if (!DEVICE_ID.test(id)) throw data(`'${id.slice(0, 70)}' is not a device id.`, { status: 404, statusText: 'Not Found', headers: personal });
  const [device, telemetry] = await Promise.all([
    web.call<DeviceDetail>('GET', `/api/v1/devices/${id}`),
    web.call<{ bucketMinutes: number; data: DevicePoint[] }>('GET', `/api/v1/fleet/devices/${id}/telemetry?hours=24&bucket=5`),
  ]);
  if (!device.ok) throw data(device.status === 404 ? `No device '${id}'.` : device.detail, { status: device.status === 404 ? 404 : 502, statusText: device.status === 404 ? 'Not Found' : 'Bad Gateway', headers: personal });
  return { device: device.data, reported: telemetry.ok ? telemetry.data.data : [], bucketMinutes: telemetry.ok ? telemetry.data.bucketMinutes : 5, now: web.now().toISOString() };
}


const at = (v: string | null) => (v ? `${dateTimeLabel(v, 'UTC')}` : '—');

export default function FleetDevice() {
  const d = useLoaderData<typeof loader>();
  const live = useFleetLive();
  const dev = d.device;
  const versions = dev.history;
  const shadow = dev.shadow;
  return (
    <section>
      <h1>{dev.name} <code>{dev.id}</code></h1>
      <p><Link to="/fleet/devices">All devices</Link> · <Link to="/fleet">Fleet overview</Link>. <LiveBadge live={live} /></p>
      <div className="cards">
        <div className="card"><h3>Status</h3><p className="big"><StatusBadge status={shownStatus(dev)} /></p><p>last seen {at(dev.lastSeenAt)} UTC{dev.agentVersion ? ` · agent ${dev.agentVersion}` : ''}</p></div>
        <div className="card"><h3>State of charge</h3><p className="big">{pct(dev.reported.socPct)}</p><p>of {dev.capacityKwh} kWh usable</p></div>
        <div className="card"><h3>Power</h3><p className="big">{kw(dev.reported.powerKw)}</p><p>limits: charge {dev.maxChargeKw} kW, discharge {dev.maxDischargeKw} kW</p></div>
        <div className="card"><h3>Schedule version</h3><p className="big" data-versions>{dev.desiredVersion} / {shadow.confirmedVersion} / {shadow.executed.version ?? '—'}</p><p>desired / confirmed by the device / executing now (0: fallback){shadow.inSync ? ' — in sync' : ' — not yet confirmed'}</p></div>
      </div>
      <h2>Schedule timeline: planned versus executed</h2>
      {versions.length === 0 && d.reported.length === 0 ? <p>No schedule sent to this device yet, and no telemetry in the last 24 hours.</p> : (
        <>
          <ScheduleTimeline versions={versions} reported={d.reported} bucketMinutes={d.bucketMinutes} now={d.now} />
          <p className="muted">Times in UTC. Colours: charge green, discharge orange, idle grey, hold SoC blue. “Reported” is the mode the device’s telemetry said it ran; “executed” runs from its own “executing” acknowledgement to its verdict. The dashed line is now.</p>
        </>
      )}
      {d.reported.length ? <SocPowerCharts id="device" what="As reported, last 24 hours:" points={d.reported} /> : null}
      <h2>Delivery history</h2>
      {versions.length === 0 ? null : (
        <div className="table-scroll">
          <table className="delivery-history">
            <caption>Newest version first; each step's time as the delivery ledger recorded it (UTC)</caption>
            <thead><tr><th scope="col">Version</th><th scope="col">State</th><th scope="col">Issued</th><th scope="col">Sent</th><th scope="col">Acknowledged</th><th scope="col">Executing</th><th scope="col">Finished</th><th scope="col">Publishes</th><th scope="col">Intervals</th><th scope="col">Reason</th></tr></thead>
            <tbody>{versions.map((v) => (
              <tr key={v.version} data-version={v.version} data-state={v.state}>
                <th scope="row">v{v.version}{v.rolloutId ? <> <span className="muted">rollout {v.rolloutId.slice(0, 8)}</span></> : null}</th>
                <td>{v.state}{v.supersededBy ? ` by v${v.supersededBy}` : ''}</td>
                <td>{at(v.issuedAt)}</td><td>{at(v.sentAt)}</td><td>{at(v.acknowledgedAt)}</td><td>{at(v.executingAt)}</td><td>{at(v.finishedAt)}</td>
                <td className="num">{v.publishCount}</td>
                <td>{v.intervals.map((iv, i) => <div key={i}>{iv.action}{iv.powerKw !== undefined ? ` ${iv.powerKw} kW` : ''}{iv.targetSoc !== undefined ? ` → ${iv.targetSoc} %` : ''} {dateTimeLabel(iv.start, 'UTC')}–{dateTimeLabel(iv.end, 'UTC')}</div>)}</td>
                <td>{v.reason ?? ''}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}
