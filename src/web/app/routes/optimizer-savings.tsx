import { useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { part } from '../lib/loaders.ts';
import { Missing } from '../components/missing.tsx';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';

export const headers = () => ({ 'Cache-Control': 'no-store' });
export const meta: MetaFunction = () => [{ title: 'Device savings · GridPulse' }, { name: 'robots', content: 'noindex' }];
export const access: PageAccess = ['analyst', 'operator', 'admin'];

interface DevicePlan { deviceId: string; madeAt: string; startsAt: string; method: 'lp' | 'rule-fallback'; fallbackReason: string | null; costUsd: number; noBatteryCostUsd: number; co2Kg: number | null; noBatteryCo2Kg: number | null }
interface Daily { day: string; devices: number; costUsd: number; noBatteryCostUsd: number; co2Kg: number | null; noBatteryCo2Kg: number | null }

export async function loader({ context, request }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  return { savings: part(await web.api<{ devices: DevicePlan[]; daily: Daily[] }>('/api/v1/optimizer/savings')) };
}

const money = (v: number) => `$${v.toFixed(2)}`;
const kg = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} kg`);
const pct = (cost: number, base: number) => (base ? `${(((base - cost) / Math.abs(base)) * 100).toFixed(1)} %` : '—');

export default function OptimizerSavings() {
  const { savings } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Device savings</h1>
      <p>Each device&apos;s newest plan (expected cost over its horizon under its tariff) against the same hours without the battery, and the fleet&apos;s totals per day (the last plan of each device that day). The backtest against the rule and perfect foresight is on <a href="/optimizer">the optimizer page</a>.</p>
      {!savings.ok ? <Missing what="Device savings" part={savings} /> : (
        <>
          <h2>Fleet per day</h2>
          {savings.data.daily.length === 0 ? <p>No plans yet.</p> : (
            <div className="table-scroll"><table>
              <thead><tr><th scope="col">Day (UTC)</th><th scope="col">Devices</th><th scope="col">Planned cost</th><th scope="col">No battery</th><th scope="col">Saving</th><th scope="col">CO2</th><th scope="col">CO2 no battery</th></tr></thead>
              <tbody>{savings.data.daily.map((d) => (
                <tr key={d.day}><th scope="row">{d.day}</th><td className="num">{d.devices}</td><td className="num">{money(d.costUsd)}</td><td className="num">{money(d.noBatteryCostUsd)}</td><td className="num">{pct(d.costUsd, d.noBatteryCostUsd)}</td><td className="num">{kg(d.co2Kg)}</td><td className="num">{kg(d.noBatteryCo2Kg)}</td></tr>
              ))}</tbody>
            </table></div>
          )}
          <h2>Devices</h2>
          {savings.data.devices.length === 0 ? <p>No device has been planned yet.</p> : (
            <div className="table-scroll"><table>
              <thead><tr><th scope="col">Device</th><th scope="col">Planned</th><th scope="col">How</th><th scope="col">Cost</th><th scope="col">No battery</th><th scope="col">Saving</th><th scope="col">CO2</th></tr></thead>
              <tbody>{savings.data.devices.map((d) => (
                <tr key={d.deviceId}><th scope="row">{d.deviceId}</th><td>{d.madeAt.slice(0, 16).replace('T', ' ')} UTC</td>
                  <td>{d.method === 'lp' ? 'LP' : <span title={d.fallbackReason ?? ''}>rule (solver failed)</span>}</td>
                  <td className="num">{money(d.costUsd)}</td><td className="num">{money(d.noBatteryCostUsd)}</td><td className="num">{pct(d.costUsd, d.noBatteryCostUsd)}</td><td className="num">{kg(d.co2Kg)}</td></tr>
              ))}</tbody>
            </table></div>
          )}
        </>
      )}
    </>
  );
}
