import { Link, data, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { fmtInt, fmtPct } from '../lib/format.ts';
import { egridFuelName, type PlantDetail, type UsMap } from '../lib/egrid-types.ts';
import { PlantMap } from '../components/plant-map.tsx';

export const meta: MetaFunction<typeof loader> = ({ loaderData: d }) => [{ title: `${d?.detail.plant.plantName ?? 'Plant'} · eGRID · GridPulse` }];

export async function loader({ params, request, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  if (!/^\d{1,7}$/.test(params.orispl ?? '')) throw data(`'${params.orispl}' is not an ORIS plant code.`, { status: 404, statusText: 'Not Found' });
  const year = new URL(request.url).searchParams.get('year');
  const [detail, map, points] = await Promise.all([
    web.api<PlantDetail>(`/api/v1/egrid/plants/${params.orispl}${year && /^\d{4}$/.test(year) ? `?year=${year}` : ''}`),
    web.reference<UsMap>('/api/v1/egrid/us-map'),
    web.api<{ points: Array<[number, number, number, number | null, string | null, string | null, number | null, number | null]> }>(`/api/v1/egrid/plant-points${year && /^\d{4}$/.test(year) ? `?year=${year}` : ''}`),
  ]);
  if (!detail.ok) throw data(detail.detail, { status: detail.status === 404 ? 404 : 502, statusText: detail.status === 404 ? 'Not Found' : 'Bad Gateway' });
  const mine = points.ok ? points.data.points.filter((p) => p[0] === Number(params.orispl)) : [];
  return { detail: detail.data, map: map.ok ? map.data : null, mine };
}

export default function Plant() {
  const { detail: d, map, mine } = useLoaderData<typeof loader>();
  const p = d.plant;
  return (
    <article>
      <h1>{p.plantName} <span className="muted">ORISPL {p.orispl} · {d.edition}</span></h1>
      <p>{[p.countyName, p.state].filter(Boolean).join(', ')} · operator {p.operatorName ?? '—'} · BA {p.baCode ? <Link to={`/ba/${p.baCode}`}>{p.baCode}</Link> : '—'} · subregion {p.subregion ?? '—'} · NERC {p.nercRegion ?? '—'}</p>
      <div className="report two">
        <table><caption>{d.year} figures</caption><tbody>
          <tr><th scope="row">Primary fuel</th><td>{egridFuelName(p.fuelCategory)} ({p.primaryFuel})</td></tr>
          <tr><th scope="row">Nameplate capacity</th><td className="num">{fmtInt(p.nameplateMw)} MW</td></tr>
          <tr><th scope="row">Capacity factor</th><td className="num">{fmtPct(p.capacityFactor)}</td></tr>
          <tr><th scope="row">Net generation</th><td className="num">{fmtInt(p.netGenerationMwh)} MWh</td></tr>
          <tr><th scope="row">CO₂</th><td className="num">{fmtInt(p.co2ShortTons)} short tons</td></tr>
          <tr><th scope="row">CO₂ output rate</th><td className="num">{fmtInt(p.co2RateLbPerMwh)} lb/MWh</td></tr>
        </tbody></table>
        {map ? <PlantMap map={map} points={mine} title="Location" compact /> : null}
      </div>
      <h2>History across imported years</h2>
      <table><thead><tr><th scope="col">Year</th><th scope="col">Fuel</th><th scope="col">MW</th><th scope="col">Net MWh</th><th scope="col">CO₂ tons</th><th scope="col">CO₂ lb/MWh</th></tr></thead>
        <tbody>{d.history.map((h) => <tr key={h.year}><th scope="row">{h.year}</th><td>{h.primaryFuel}</td><td className="num">{fmtInt(h.nameplateMw)}</td><td className="num">{fmtInt(h.netGenerationMwh)}</td><td className="num">{fmtInt(h.co2ShortTons)}</td><td className="num">{fmtInt(h.co2RateLbPerMwh)}</td></tr>)}</tbody></table>
      <h2>Generators ({d.generators.length})</h2>
      {d.generators.length === 0 ? <p className="muted">No generator rows imported for {d.year}.</p> : (
        <table><thead><tr><th scope="col">ID</th><th scope="col">Status</th><th scope="col">Prime mover</th><th scope="col">Fuel</th><th scope="col">MW</th><th scope="col">CF</th><th scope="col">Net MWh</th><th scope="col">Online</th></tr></thead>
          <tbody>{d.generators.map((g) => <tr key={g.generatorId}><th scope="row">{g.generatorId}</th><td>{g.status}</td><td>{g.primeMover}</td><td>{g.primaryFuel}</td><td className="num">{fmtInt(g.nameplateMw)}</td><td className="num">{fmtPct(g.capacityFactor)}</td><td className="num">{fmtInt(g.netGenerationMwh)}</td><td>{g.yearOnline}</td></tr>)}</tbody></table>
      )}
      <h2>Units ({d.units.length})</h2>
      {d.units.length === 0 ? <p className="muted">No unit rows imported for {d.year}.</p> : (
        <table><thead><tr><th scope="col">Unit</th><th scope="col">Prime mover</th><th scope="col">Fuel</th><th scope="col">Heat input MMBtu</th><th scope="col">CO₂ tons</th></tr></thead>
          <tbody>{d.units.map((u) => <tr key={u.unitId}><th scope="row">{u.unitId}</th><td>{u.primeMover}</td><td>{u.primaryFuel}</td><td className="num">{fmtInt(u.heatInputMmbtu)}</td><td className="num">{fmtInt(u.co2ShortTons)}</td></tr>)}</tbody></table>
      )}
      <p><Link to="/egrid">Back to the explorer</Link></p>
    </article>
  );
}
