import { Link, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';

/** Operator pages are never stored by browsers or shared caches. */
export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'Markets · GridPulse' }, { name: 'robots', content: 'noindex' }];

export const access: PageAccess = ['admin', 'operator'];

interface RunSummary { id: number; market: string; marketDay: string; node: string | null; status: string; devices: number; soldMwh: number; boughtMwh: number; revenueUsd: number | null; imbalanceCostUsd: number | null; deliveredPct: number | null }
interface RunHour { hour: string; soldMw: number; boughtMw: number; priceUsdPerMwh: number; dispatchedDevices: number; dispatchedMw: number; deliveredMwh: number | null; revenueUsd: number | null }
interface RunDetail extends RunSummary { bids: Array<{ hour: string; side: string; step: number; quantityMw: number; priceUsdPerMwh: number }>; hours: RunHour[] }

export async function loader({ context, request }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const runs = await web.call<{ data: RunSummary[] }>('GET', '/api/v1/markets/runs?limit=50');
  const list = runs.ok ? runs.data.data : [];
  const wanted = Number(new URL(request.url).searchParams.get('run') ?? list[0]?.id ?? 0);
  const detail = Number.isInteger(wanted) && wanted > 0 ? await web.call<RunDetail>('GET', `/api/v1/markets/runs/${wanted}`) : undefined;
  return { runs: list, error: runs.ok ? null : runs.detail, run: detail?.ok ? detail.data : null };
}

const mwh = (v: number | null) => (v === null ? '—' : v.toFixed(3));
const usd = (v: number | null) => (v === null ? '—' : `$${v.toFixed(2)}`);
const hourOf = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

export default function Markets() {
  const d = useLoaderData<typeof loader>();
  return (
    <section>
      <h1>Markets</h1>
      <p>The fleet as one virtual power plant: each run bids the fleet&apos;s hourly flexibility (less a state-of-charge margin) into a day-ahead market,
        dispatches the awards to the batteries as schedules, and measures what they delivered from their own telemetry.
        Runs of the market simulator use SIMULATED batteries (<code>gridpulse markets simulate</code>).</p>
      {d.error ? <p className="notice" role="alert">{d.error}</p> : null}
      <div className="table-scroll">
        <table>
          <caption>Market runs</caption>
          <thead><tr><th scope="col">Day</th><th scope="col">Market</th><th scope="col">Status</th><th scope="col">Devices</th><th scope="col">Sold MWh</th><th scope="col">Bought MWh</th><th scope="col">Revenue</th><th scope="col">Imbalance</th><th scope="col">Delivered</th></tr></thead>
          <tbody>{d.runs.map((r) => (
            <tr key={r.id}>
              <td><Link to={`/markets?run=${r.id}`}>{r.marketDay}</Link></td><td>{r.market}{r.node ? ` · ${r.node}` : ''}</td><td>{r.status}</td><td>{r.devices}</td>
              <td>{mwh(r.soldMwh)}</td><td>{mwh(r.boughtMwh)}</td><td>{usd(r.revenueUsd)}</td><td>{usd(r.imbalanceCostUsd)}</td>
              <td>{r.deliveredPct === null ? '—' : `${r.deliveredPct.toFixed(1)} %`}</td>
            </tr>
          ))}</tbody>
        </table>
      </div>
      {d.runs.length === 0 ? <p>No market runs yet.</p> : null}
      {d.run ? (
        <>
          <h2>Run {d.run.id}: {d.run.marketDay}</h2>
          <div className="table-scroll">
            <table>
              <caption>Awards, dispatch and delivery per hour (sold: the fleet discharges; bought: it charges)</caption>
              <thead><tr><th scope="col">Hour</th><th scope="col">Clearing price $/MWh</th><th scope="col">Sold MW</th><th scope="col">Bought MW</th><th scope="col">Devices dispatched</th><th scope="col">Delivered MWh (net: + sold)</th><th scope="col">Revenue</th></tr></thead>
              <tbody>{d.run.hours.filter((h) => h.soldMw > 0 || h.boughtMw > 0).map((h) => (
                <tr key={h.hour}>
                  <td>{hourOf(h.hour)}</td><td>{h.priceUsdPerMwh.toFixed(2)}</td><td>{mwh(h.soldMw)}</td><td>{mwh(h.boughtMw)}</td>
                  <td>{h.dispatchedDevices}</td><td>{mwh(h.deliveredMwh)}</td><td>{usd(h.revenueUsd)}</td>
                </tr>
              ))}</tbody>
            </table>
          </div>
          <div className="table-scroll">
            <table>
              <caption>Bids (stepwise: more volume offered as the price rises)</caption>
              <thead><tr><th scope="col">Hour</th><th scope="col">Side</th><th scope="col">Step</th><th scope="col">MW</th><th scope="col">Limit $/MWh</th></tr></thead>
              <tbody>{d.run.bids.map((b) => (
                <tr key={`${b.hour}-${b.side}-${b.step}`}><td>{hourOf(b.hour)}</td><td>{b.side}</td><td>{b.step + 1}</td><td>{b.quantityMw.toFixed(3)}</td><td>{b.priceUsdPerMwh.toFixed(2)}</td></tr>
              ))}</tbody>
            </table>
          </div>
        </>
      ) : null}
    </section>
  );
}
