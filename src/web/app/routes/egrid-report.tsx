import { Link, data, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { fmtInt, fmtPct } from '../lib/format.ts';
import { egridFuelName, type EgridReport, type UsMap } from '../lib/egrid-types.ts';
import { PlantMap } from '../components/plant-map.tsx';

export const meta: MetaFunction<typeof loader> = ({ loaderData: d }) => [{ title: d ? `eGRID ${d.report.year} report: ${d.report.code} · GridPulse` : 'eGRID report · GridPulse' }];

const LEVEL_NAMES = { state: 'State', ba: 'Balancing authority', subregion: 'eGRID subregion' } as const;
const MIX_NAMES: Record<string, string> = { coal: 'Coal', oil: 'Oil', gas: 'Gas', nuclear: 'Nuclear', hydro: 'Hydro', biomass: 'Biomass', wind: 'Wind', solar: 'Solar', geothermal: 'Geothermal', otherFossil: 'Other fossil', other: 'Other' };

export async function loader({ params, request, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const level = params.level ?? '';
  if (!(level in LEVEL_NAMES) || !/^[A-Za-z0-9-]{1,10}$/.test(params.code ?? '')) throw data('No such report.', { status: 404, statusText: 'Not Found' });
  const year = new URL(request.url).searchParams.get('year');
  const [report, map] = await Promise.all([
    web.api<EgridReport>(`/api/v1/egrid/reports/${level}/${params.code}${year && /^\d{4}$/.test(year) ? `?year=${year}` : ''}`),
    web.reference<UsMap>('/api/v1/egrid/us-map'),
  ]);
  if (!report.ok) throw data(report.detail, { status: report.status === 404 ? 404 : 502, statusText: report.status === 404 ? 'Not Found' : 'Bad Gateway' });
  return { report: report.data, map: map.ok ? map.data : null };
}

export default function Report() {
  const { report: r, map } = useLoaderData<typeof loader>();
  const base = `/api/v1/egrid/reports/${r.level}/${r.code}?year=${r.year}`;
  return (
    <article className="report">
      <h1>{LEVEL_NAMES[r.level]} {r.code}: {r.edition} report</h1>
      <p>{fmtInt(r.plants)} plants, {fmtInt(r.capacityMw)} MW nameplate, {fmtInt(r.netGenerationMwh)} MWh net generation, {fmtInt(r.co2Tons)} short tons of CO₂ in {r.year}.
        Source: EPA eGRID plant data as imported; rates are 2,000 × tons / MWh over the region&apos;s plants.</p>
      <p className="no-print"><button type="button" onClick={() => window.print()}>Print</button> · Download: <a href={`${base}&format=xlsx`}>XLSX (every table)</a> · CSV{' '}
        {(['rates', 'mix', 'emitters', 'plants'] as const).map((t) => <a key={t} href={`${base}&format=csv&table=${t}`}> {t}</a>)} · <Link to="/egrid/reports">All reports</Link></p>
      <div className="two">
        <section aria-labelledby="rates-h">
          <h2 id="rates-h">Emission rates against the US</h2>
          <table data-table="rates"><thead><tr><th scope="col">Pollutant</th><th scope="col">{r.code} lb/MWh</th><th scope="col">US lb/MWh</th><th scope="col">× US</th><th scope="col">Non-baseload {r.code}</th><th scope="col">Non-baseload US</th></tr></thead>
            <tbody>{r.rates.map((x) => <tr key={x.pollutant}><th scope="row">{x.pollutant.toUpperCase()}</th><td className="num">{x.region?.toFixed(1) ?? '—'}</td><td className="num">{x.us?.toFixed(1) ?? '—'}</td><td className="num">{x.ratio?.toFixed(2) ?? '—'}</td><td className="num">{x.nonBaseloadRegion?.toFixed(1) ?? '—'}</td><td className="num">{x.nonBaseloadUs?.toFixed(1) ?? '—'}</td></tr>)}</tbody></table>
        </section>
        {map ? <PlantMap map={map} points={r.points} title={`${r.code} plants`} compact /> : null}
      </div>
      <section aria-labelledby="mix-h">
        <h2 id="mix-h">Generation mix</h2>
        <table data-table="mix"><thead><tr><th scope="col">Fuel</th><th scope="col">MWh</th><th scope="col">Share</th><th scope="col">US share</th></tr></thead>
          <tbody>{r.mix.filter((m) => m.mwh !== 0 || (m.usShare ?? 0) > 0).map((m) => <tr key={m.fuel}><th scope="row">{MIX_NAMES[m.fuel] ?? m.fuel}</th><td className="num">{fmtInt(m.mwh)}</td><td className="num">{fmtPct(m.share, 1)}</td><td className="num">{fmtPct(m.usShare, 1)}</td></tr>)}</tbody></table>
      </section>
      <section aria-labelledby="top-h">
        <h2 id="top-h">Largest CO₂ emitters</h2>
        <table data-table="emitters"><thead><tr><th scope="col">Plant</th><th scope="col">State</th><th scope="col">Fuel</th><th scope="col">CO₂ short tons</th><th scope="col">lb/MWh</th></tr></thead>
          <tbody>{r.topEmitters.map((e) => <tr key={e.orispl}><th scope="row"><Link to={`/egrid/plants/${e.orispl}?year=${r.year}`}>{e.plantName ?? e.orispl}</Link></th><td>{e.state}</td><td>{egridFuelName(e.fuelCategory)}</td><td className="num">{fmtInt(e.tons)}</td><td className="num">{fmtInt(e.rateLbPerMwh)}</td></tr>)}</tbody></table>
      </section>
    </article>
  );
}
