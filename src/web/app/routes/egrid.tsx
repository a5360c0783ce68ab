import { Form, Link, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { part } from '../lib/loaders.ts';
import { fmtInt, fmtPct } from '../lib/format.ts';
import { EGRID_FUELS, egridFuelName, type EgridYear, type PlantPage, type PlantPoints, type UsMap } from '../lib/egrid-types.ts';
import { PlantMap } from '../components/plant-map.tsx';
import { Missing } from '../components/missing.tsx';

export const meta: MetaFunction = () => [{ title: 'eGRID plant explorer · GridPulse' }];

const FILTERS = ['year', 'state', 'ba', 'subregion', 'fuel', 'minMw', 'maxMw'] as const;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const url = new URL(request.url);
  const asked = Object.fromEntries(FILTERS.map((f) => [f, url.searchParams.get(f)?.trim() ?? '']).filter(([, v]) => v !== '')) as Partial<Record<typeof FILTERS[number], string>>;
  const qs = new URLSearchParams(asked).toString();
  const [years, map, points, table] = await Promise.all([
    web.api<{ data: EgridYear[] }>('/api/v1/egrid/years'),
    web.reference<UsMap>('/api/v1/egrid/us-map'),
    web.api<PlantPoints>(`/api/v1/egrid/plant-points?${qs}`),
    web.api<PlantPage>(`/api/v1/egrid/plants?${qs}&sort=-capacity&pageSize=100`),
  ]);
  return { asked, qs, years: years.ok ? years.data.data.filter((y) => y.plants > 0) : [], map: part(map), points: part(points), table: part(table) };
}

export default function Explorer() {
  const d = useLoaderData<typeof loader>();
  if (d.years.length === 0) {
    return (<article className="prose"><h1>eGRID plant explorer</h1>
      <p className="notice">No eGRID plant data is imported yet. An admin or analyst can import EPA&apos;s eGRID files on the <Link to="/egrid/upload">upload page</Link> or with <code>gridpulse egrid import FILE</code>.</p></article>);
  }
  return (
    <>
      <h1>eGRID plant explorer</h1>
      <p className="muted">Every US power plant in EPA&apos;s eGRID, as imported: points sized by nameplate capacity and coloured by fuel. <Link to="/egrid/reports">Reports</Link> · <a href="/methodology#egrid-aggregates">How the rates are computed</a></p>
      <Form method="get" className="filters" aria-label="Filter plants">
        <label>Year<select name="year" defaultValue={d.asked.year ?? ''}>{d.years.map((y) => <option key={y.year} value={y.year}>{y.edition}</option>)}</select></label>
        <label>State<input name="state" size={3} maxLength={2} defaultValue={d.asked.state ?? ''} placeholder="MN" /></label>
        <label>BA<input name="ba" size={6} defaultValue={d.asked.ba ?? ''} placeholder="MISO" /></label>
        <label>Subregion<input name="subregion" size={6} defaultValue={d.asked.subregion ?? ''} placeholder="MROW" /></label>
        <label>Fuel<select name="fuel" defaultValue={d.asked.fuel ?? ''}><option value="">any</option>{Object.entries(EGRID_FUELS).map(([k, v]) => <option key={k} value={k}>{v.name}</option>)}</select></label>
        <label>Min MW<input name="minMw" size={6} inputMode="decimal" defaultValue={d.asked.minMw ?? ''} /></label>
        <label>Max MW<input name="maxMw" size={6} inputMode="decimal" defaultValue={d.asked.maxMw ?? ''} /></label>
        <button type="submit">Show</button>
        <Link to="/egrid">Clear</Link>
      </Form>
      {!d.points.ok ? <p className="notice" role="alert">{d.points.detail}</p> : (
        <div className="explorer">
          {d.map.ok ? <PlantMap map={d.map.data} points={d.points.data.points} title={`${d.points.data.edition} plants`} /> : <Missing what="The map" part={d.map} />}
          <div>
            {!d.table.ok ? <Missing what="The plant table" part={d.table} /> : (
              <>
                <p>{fmtInt(d.table.data.total)} plants match; the largest 100 by capacity: <a href={`/api/v1/egrid/plants?${d.qs}&format=csv`}>all as CSV</a> · <a href={`/api/v1/egrid/plants?${d.qs}&format=xlsx`}>XLSX</a></p>
                <div className="table-scroll">
                  <table data-table="plants">
                    <thead><tr><th scope="col">Plant</th><th scope="col">State</th><th scope="col">BA</th><th scope="col">Fuel</th><th scope="col">MW</th><th scope="col">CF</th><th scope="col">CO₂ lb/MWh</th></tr></thead>
                    <tbody>{d.table.data.data.map((p) => (
                      <tr key={p.orispl}><th scope="row"><Link to={`/egrid/plants/${p.orispl}?year=${d.table.ok ? d.table.data.year : ''}`}>{p.plantName ?? p.orispl}</Link></th>
                        <td>{p.state}</td><td>{p.baCode ? <Link to={`/ba/${p.baCode}`}>{p.baCode}</Link> : '—'}</td><td>{egridFuelName(p.fuelCategory)}</td>
                        <td className="num">{fmtInt(p.nameplateMw)}</td><td className="num">{fmtPct(p.capacityFactor)}</td><td className="num">{fmtInt(p.co2RateLbPerMwh)}</td></tr>
                    ))}</tbody>
                  </table>
                </div>
              </>
            )}
          </div>
        </div>
      )}
    </>
  );
}
