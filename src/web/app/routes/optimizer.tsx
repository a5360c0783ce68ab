import { useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { part } from '../lib/loaders.ts';
import { Missing } from '../components/missing.tsx';

export const meta: MetaFunction = () => [{ title: 'Battery optimizer: savings and the cost–CO2 curve · GridPulse' }];

interface Outcome { cost: number; co2Kg: number | null; throughputKWh: number }
interface Backtest {
  id: number; madeAt: string; hours: number; noBattery: Outcome; rule: Outcome; optimized: Outcome & { fallbackHours: number }; perfect: Outcome;
  savingsPct: number; pctOfPerfect: number; params: Record<string, unknown>; pareto?: Array<{ carbonPrice: number; cost: number; co2Kg: number | null }>;
}

export async function loader({ context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  return { backtest: part(await web.api<{ data: Backtest }>('/api/v1/optimizer/backtest')) };
}

const money = (v: number) => `$${v.toFixed(2)}`;
const kg = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} kg`);

/** Cost against CO2 of the optimizer's plans at each carbon price: a plain SVG scatter, cheapest-and-cleanest is bottom left. */
function Pareto({ points }: { points: Array<{ carbonPrice: number; cost: number; co2Kg: number }> }) {
  const w = 520, h = 260, pad = 48;
  const xs = points.map((p) => p.co2Kg), ys = points.map((p) => p.cost);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (v: number) => pad + ((v - x0) / (x1 - x0 || 1)) * (w - 2 * pad);
  const sy = (v: number) => h - pad - ((v - y0) / (y1 - y0 || 1)) * (h - 2 * pad);
  return (
    <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label="Cost against CO2 of the optimizer's plans at each carbon price" style={{ maxWidth: '100%' }}>
      <line x1={pad} y1={h - pad} x2={w - pad} y2={h - pad} stroke="currentColor" />
      <line x1={pad} y1={pad} x2={pad} y2={h - pad} stroke="currentColor" />
      <text x={w / 2} y={h - 10} textAnchor="middle" fontSize="12">CO2 (kg)</text>
      <text x={12} y={h / 2} fontSize="12" transform={`rotate(-90 12 ${h / 2})`} textAnchor="middle">cost ($)</text>
      <polyline fill="none" stroke="currentColor" strokeDasharray="4 3" points={points.map((p) => `${sx(p.co2Kg)},${sy(p.cost)}`).join(' ')} />
      {points.map((p) => (
        <g key={p.carbonPrice}>
          <circle cx={sx(p.co2Kg)} cy={sy(p.cost)} r={4} />
          <text x={sx(p.co2Kg) + 6} y={sy(p.cost) - 6} fontSize="11">{p.carbonPrice} $/t</text>
        </g>
      ))}
    </svg>
  );
}

export default function Optimizer() {
  const { backtest } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Battery optimizer</h1>
      <p>Each battery is planned by a linear program (HiGHS): energy cost under its tariff, plus a carbon price × the consumption-based intensity forecast of its balancing authority, plus battery wear, with soft state-of-charge (SoC) bounds and a value for the energy left at the end of the horizon. The figures below replay a past period hour by hour, planning only on the prices published by then (a day&apos;s day-ahead prices at 12:00 local time the day before), against three baselines: no battery, a fixed rule (charge in the night, discharge in the evening peak) and perfect foresight (the same LP on the actual prices). A device&apos;s own plans against no battery are on <a href="/optimizer/savings">the savings page</a> (analysts and operators).</p>
      {!backtest.ok ? <Missing what="A stored backtest" part={backtest} /> : (() => {
        const b = backtest.data.data;
        const rows = [['No battery', b.noBattery], ['Rule', b.rule], ['Optimizer (what was known)', b.optimized], ['Perfect foresight', b.perfect]] as const;
        const pareto = (b.pareto ?? []).filter((p): p is { carbonPrice: number; cost: number; co2Kg: number } => p.co2Kg !== null);
        return (
          <>
            <h2>Savings against the baselines</h2>
            <p><strong>{b.savingsPct.toFixed(1)} %</strong> cheaper than no battery, <strong>{b.pctOfPerfect.toFixed(1)} %</strong> of what perfect foresight saves, over {b.hours} hours{b.optimized.fallbackHours ? `; the solver failed in ${b.optimized.fallbackHours} hours, where the rule planned` : ''}.</p>
            <div className="table-scroll">
              <table>
                <caption>Backtest stored {new Date(b.madeAt).toISOString().slice(0, 16).replace('T', ' ')} UTC</caption>
                <thead><tr><th scope="col">Plan</th><th scope="col">Cost</th><th scope="col">CO2</th><th scope="col">Throughput</th></tr></thead>
                <tbody>{rows.map(([name, o]) => (
                  <tr key={name}><th scope="row">{name}</th><td className="num">{money(o.cost)}</td><td className="num">{kg(o.co2Kg)}</td><td className="num">{o.throughputKWh.toFixed(0)} kWh</td></tr>
                ))}</tbody>
              </table>
            </div>
            <details><summary>What it ran on</summary><dl>{Object.entries(b.params).map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd></div>)}</dl></details>
            <h2>Cost against CO2</h2>
            {pareto.length < 2 ? <p>No carbon-price sweep stored with intensities (run the backtest with <code>--pareto 0,50,100,200 --save</code> and an intensity source).</p> : (
              <>
                <Pareto points={pareto} />
                <div className="table-scroll">
                  <table>
                    <caption>The optimizer&apos;s plans at each carbon price</caption>
                    <thead><tr><th scope="col">Carbon price</th><th scope="col">Cost</th><th scope="col">CO2</th></tr></thead>
                    <tbody>{pareto.map((p) => <tr key={p.carbonPrice}><th scope="row">{p.carbonPrice} $/t</th><td className="num">{money(p.cost)}</td><td className="num">{kg(p.co2Kg)}</td></tr>)}</tbody>
                  </table>
                </div>
              </>
            )}
          </>
        );
      })()}
    </>
  );
}
