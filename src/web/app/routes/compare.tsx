import { data, Form, Link, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { useMemo, type ReactNode } from 'react';
import { webContext } from '../lib/context.ts';
import type { Ba, BaNow, Hourly, Pulse } from '../lib/api-types.ts';
import { BA_CODE, hourlyColumns, part, type Part } from '../lib/loaders.ts';
import { fmtMw, fmtPct, fmtInt } from '../lib/format.ts';
import { HOUR_MS } from '../lib/time.ts';
import { useDisplayZone } from '../lib/use-zone.ts';
import { useLiveUpdates } from '../lib/live.ts';
import { Freshness, SourceMark } from '../components/freshness.tsx';
import { ConsumptionChip } from '../components/intensity-chip.tsx';
import { ChartBlock, type ChartSpec } from '../components/chart.tsx';
import { SaveView } from '../components/save-view.tsx';
import { askedRange } from '../lib/view-range.ts';
import { mayBeSignedIn } from '../lib/me-api.ts';

export const meta: MetaFunction = () => [{ title: 'Compare balancing authorities · GridPulse' }];

const MAX = 6;
const COLOURS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#d55e00', '#56b4e9'];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const q = new URL(request.url).searchParams.get('bas') ?? 'CISO,ERCO,PJM';
  const asked = [...new Set(q.toUpperCase().split(/[\s,]+/).filter(Boolean))];
  const invalid = asked.filter((c) => !BA_CODE.test(c));
  const all = await web.reference<{ data: Ba[] }>('/api/v1/bas');
  const known = new Map((all.ok ? all.data.data : []).map((b) => [b.code, b]));
  const unknown = asked.filter((c) => BA_CODE.test(c) && !known.has(c));
  const codes = asked.filter((c) => known.has(c)).slice(0, MAX);
  // a saved view opens with its own range (from/to, up to 31 days); else the last 48 hours
  const viewRange = askedRange(new URL(request.url).searchParams, 31);
  const to = viewRange?.to ?? new Date(Math.floor(web.now().getTime() / HOUR_MS) * HOUR_MS + HOUR_MS);
  const from = viewRange?.from ?? new Date(to.getTime() - 48 * HOUR_MS);
  const columns = await Promise.all(codes.map(async (c): Promise<Column> => {
    const [now, pulse, hourly] = await Promise.all([
      web.api<BaNow>(`/api/v1/bas/${c}/now`), web.api<Pulse>(`/api/v1/bas/${c}/pulse`), hourlyColumns(web, c, from, to),
    ]);
    return { ba: known.get(c)!, now: part(now), pulse: part(pulse), hourly };
  }));
  const rejected = [...invalid, ...unknown];
  // Codes the page cannot show are named (query parameter `bas`) and answered 400; the known ones are still compared.
  return data({ columns, rejected, truncated: asked.length > MAX, query: codes.join(','), now: web.now().toISOString(),
    from: from.toISOString(), to: to.toISOString(), custom: viewRange !== undefined, maybeSignedIn: mayBeSignedIn(request) }, { status: rejected.length ? 400 : 200 });
}

interface Column { ba: Ba; now: Part<BaNow>; pulse: Part<Pulse>; hourly: Part<Hourly> }
const v = <T,>(p: Part<T>, f: (d: T) => ReactNode): ReactNode => (p.ok ? f(p.data) : <span className="muted" title={p.detail}>n/a</span>);

const ROWS: Array<{ label: string; href: string; cell: (c: Column) => ReactNode }> = [
  { label: 'Carbon intensity, consumed (g/kWh)', href: '/methodology#consumption', cell: (c) => v(c.now, (n) => <ConsumptionChip value={n.intensity.consumption} flags={n.intensity.flags?.consumption} unit={false} />) },
  { label: 'Carbon intensity, produced (g/kWh)', href: '/methodology#intensity', cell: (c) => v(c.now, (n) => fmtInt(n.intensity.production)) },
  { label: 'Demand now', href: '/methodology#demand', cell: (c) => v(c.now, (n) => fmtMw(n.demandMw)) },
  { label: 'Renewable share now', href: '/methodology#renewable-share', cell: (c) => v(c.now, (n) => fmtPct(n.renewableShare)) },
  { label: 'Carbon-free share now', href: '/methodology#renewable-share', cell: (c) => v(c.now, (n) => fmtPct(n.carbonFreeShare)) },
  { label: 'Peak demand (latest day)', href: '/methodology#demand', cell: (c) => v(c.pulse, (p) => fmtMw(p.demand.peakMw)) },
  { label: 'Average intensity produced (latest day)', href: '/methodology#intensity', cell: (c) => v(c.pulse, (p) => fmtInt(p.intensity.avg)) },
  { label: 'EIA forecast MAPE (latest day)', href: '/methodology#forecast-error', cell: (c) => v(c.pulse, (p) => (p.forecast.mapePct === null ? '—' : `${p.forecast.mapePct.toFixed(1)} %`)) },
  { label: 'Renewable share (latest day)', href: '/methodology#renewable-share', cell: (c) => v(c.pulse, (p) => fmtPct(p.renewableShare)) },
];

function lineSpec(id: string, title: string, unit: string, cols: Column[], pick: (h: Hourly) => (number | null)[]): ChartSpec | null {
  const withData = cols.filter((c) => c.hourly.ok);
  if (!withData.length || !withData[0]!.hourly.ok) return null;
  return {
    id, title, unit, ts: withData[0]!.hourly.data.ts,
    series: withData.map((c) => ({ label: c.ba.code, values: c.hourly.ok ? pick(c.hourly.data) : [], colour: COLOURS[cols.indexOf(c) % COLOURS.length]! })),
  };
}

export default function Compare() {
  const d = useLoaderData<typeof loader>();
  const zone = useDisplayZone(undefined);
  useLiveUpdates(d.columns.map((c) => c.ba.code));
  const charts = useMemo(() => [
    lineSpec('compare-intensity', `Carbon intensity consumed, ${d.custom ? 'hour by hour' : 'last 48 hours'}`, 'gCO2eq/kWh', d.columns, (h) => h.intensity.consumption),
    lineSpec('compare-demand', `Demand, ${d.custom ? 'hour by hour' : 'last 48 hours'}`, 'MW', d.columns, (h) => h.demand),
  ].filter((s): s is ChartSpec => s !== null), [d.columns, d.custom]);
  return (
    <>
      <h1>Compare balancing authorities</h1>
      <Form method="get" className="inline-form">
        <label>BA codes, comma-separated (up to {MAX}) <input name="bas" defaultValue={d.query} placeholder="CISO,ERCO,PJM" /></label>
        <button type="submit">Compare</button>
      </Form>
      {d.rejected.length ? <p className="notice" role="status">Query parameter &apos;bas&apos;: not balancing authority codes: {d.rejected.join(', ')}.</p> : null}
      {d.truncated ? <p className="notice">Only the first {MAX} are compared.</p> : null}
      {d.columns.length ? <SaveView page="compare" bas={d.columns.map((c) => c.ba.code)} from={d.from} to={d.to} charts={['intensity', 'demand']} maybeSignedIn={d.maybeSignedIn} /> : null}
      {d.columns.length ? (
        <div className="table-scroll">
          <table className="compare">
            <caption>The same metrics side by side; each column carries its own freshness</caption>
            <thead><tr><th scope="col">Metric</th>{d.columns.map((c) => <th key={c.ba.code} scope="col"><Link to={`/ba/${c.ba.code}`}>{c.ba.code}</Link> <span className="muted">{c.ba.name}</span></th>)}</tr></thead>
            <tbody>
              {ROWS.map((r) => <tr key={r.label}><th scope="row"><a href={r.href}>{r.label}</a></th>{d.columns.map((c) => <td key={c.ba.code}>{r.cell(c)}</td>)}</tr>)}
              <tr><th scope="row">Freshness</th>{d.columns.map((c) => <td key={c.ba.code}>{c.now.ok
                ? <><Freshness dataThrough={c.now.data.dataThrough} status={c.now.data.freshness.status} lagMinutes={c.now.data.freshness.lagMinutes} timeZone={c.ba.timeZone} now={d.now} /><SourceMark source={c.now.data.source} stale={c.now.data.stale} /></>
                : c.hourly.ok ? <><Freshness dataThrough={c.hourly.data.dataThrough} timeZone={c.ba.timeZone} now={d.now} /><SourceMark source={c.hourly.data.source} /></> : '—'}</td>)}</tr>
            </tbody>
          </table>
        </div>
      ) : <p>Name at least one balancing authority.</p>}
      {charts.map((s) => <ChartBlock key={s.id} spec={s} timeZone={zone.timeZone} zoneLabel={zone.label} />)}
    </>
  );
}
