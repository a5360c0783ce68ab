import { Link, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { fmtInt } from '../lib/format.ts';
import type { Aggregates, EgridYear } from '../lib/egrid-types.ts';

export const meta: MetaFunction = () => [{ title: 'eGRID reports · GridPulse' }];

const LEVELS = [['subregion', 'eGRID subregions'], ['ba', 'Balancing authorities'], ['state', 'States']] as const;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const year = new URL(request.url).searchParams.get('year');
  const y = year && /^\d{4}$/.test(year) ? `year=${year}&` : '';
  const [years, ...levels] = await Promise.all([
    web.api<{ data: EgridYear[] }>('/api/v1/egrid/years'),
    ...LEVELS.map(([by]) => web.api<Aggregates>(`/api/v1/egrid/aggregates?${y}by=${by}`)),
  ]);
  return { years: years.ok ? years.data.data.filter((y) => y.plants > 0) : [], levels: LEVELS.map(([by, title], i) => ({ by, title, answer: levels[i]!.ok ? levels[i]!.data : null })) };
}

export default function Reports() {
  const d = useLoaderData<typeof loader>();
  if (d.years.length === 0) return <article className="prose"><h1>eGRID reports</h1><p className="notice">No eGRID plant data is imported yet.</p></article>;
  return (
    <article>
      <h1>eGRID reports</h1>
      <p className="muted">A printable report per region: generation mix, emission rates against the US average, the largest CO₂ emitters and a map of its plants, with CSV and XLSX downloads.
        Years: {d.years.map((y) => <Link key={y.year} to={`/egrid/reports?year=${y.year}`}> {y.edition}</Link>)}</p>
      {d.levels.map((l) => (
        <section key={l.by} aria-labelledby={`rep-${l.by}`}>
          <h2 id={`rep-${l.by}`}>{l.title}{l.answer ? ` (${l.answer.year})` : ''}</h2>
          {!l.answer ? <p className="muted">Not available.</p> : (
            <div className="table-scroll"><table>
              <thead><tr><th scope="col">Region</th><th scope="col">Plants</th><th scope="col">Net generation (MWh)</th><th scope="col">CO₂ (lb/MWh)</th><th scope="col">Downloads</th></tr></thead>
              <tbody>{l.answer.data.map((a) => (
                <tr key={a.key}><th scope="row"><Link to={`/egrid/reports/${l.by}/${a.key}?year=${l.answer!.year}`}>{a.key}</Link></th><td className="num">{fmtInt(a.plants)}</td>
                  <td className="num">{fmtInt(a.netGenerationMwh)}</td><td className="num">{fmtInt(a.co2Rate)}</td>
                  <td><a href={`/api/v1/egrid/reports/${l.by}/${a.key}?year=${l.answer!.year}&format=xlsx`}>XLSX</a></td></tr>
              ))}</tbody>
            </table></div>
          )}
        </section>
      ))}
    </article>
  );
}
