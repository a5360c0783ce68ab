import { useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import type { EmissionFactors } from '../lib/api-types.ts';
import { part } from '../lib/loaders.ts';
import { Missing } from '../components/missing.tsx';
import { intensityLegend } from '../lib/scale.ts';

export const meta: MetaFunction = () => [{ title: 'Methodology · GridPulse' }];

interface OpenApi { paths: Record<string, { get?: { summary?: string; description?: string } }> }

/**
 * Each metric's section on this page: the anchor the site links to, and the API endpoint whose published
 * definition (written once, in the analytics code, served in the OpenAPI document) is shown under it.
 */
const METRICS: Array<{ id: string; title: string; path: string }> = [
  { id: 'demand', title: 'Demand, peak and energy; Daily Pulse', path: '/api/v1/bas/{code}/pulse' },
  { id: 'forecast-error', title: 'EIA forecast error', path: '/api/v1/bas/{code}/pulse' },
  { id: 'intensity', title: 'Carbon intensity, production based', path: '/api/v1/bas/{code}/intensity' },
  { id: 'consumption', title: 'Carbon intensity, consumption based (flow tracing)', path: '/api/v1/bas/{code}/intensity' },
  { id: 'renewable-share', title: 'Fuel mix, renewable and carbon-free share (What’s Powering Me)', path: '/api/v1/bas/{code}/now' },
  { id: 'interchange', title: 'Interchange and chart data', path: '/api/v1/bas/{code}/hourly' },
  { id: 'clean-window', title: 'Clean window', path: '/api/v1/bas/{code}/clean-window' },
  { id: 'forecast', title: '48-hour forecast', path: '/api/v1/bas/{code}/forecast' },
  { id: 'duck', title: 'Duck curve', path: '/api/v1/bas/{code}/duck' },
  { id: 'baseline', title: 'Baselines', path: '/api/v1/bas/{code}/baseline' },
  { id: 'freshness', title: 'Freshness', path: '/api/v1/bas/{code}/freshness' },
  { id: 'quality', title: 'Quality checks', path: '/api/v1/pipeline/checks' },
  { id: 'egrid-aggregates', title: 'eGRID aggregates, output, input and non-baseload rates', path: '/api/v1/egrid/aggregates' },
  { id: 'egrid-factors', title: 'eGRID emission factors per BA', path: '/api/v1/egrid/emission-factors' },
];

export async function loader({ context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const [factors, doc] = await Promise.all([web.api<EmissionFactors>('/api/v1/emission-factors'), web.reference<OpenApi>('/api/v1/openapi.json')]);
  const definitions = Object.fromEntries(METRICS.map((m) => {
    const op = doc.ok ? doc.data.paths[m.path]?.get : undefined;
    return [m.id, op ? { summary: op.summary ?? '', description: op.description ?? '' } : null];
  }));
  return { factors: part(factors), definitions };
}

/** API descriptions use `code` spans; show them as code, everything else as text. */
function ApiText({ text }: { text: string }) {
  return <>{text.split(/(`[^`]+`)/).map((piece, i) => (piece.startsWith('`') ? <code key={i}>{piece.slice(1, -1)}</code> : piece))}</>;
}

export default function Methodology() {
  const { factors, definitions } = useLoaderData<typeof loader>();
  return (
    <article className="prose">
      <h1>How the numbers are made</h1>
      <p>Every number on GridPulse comes with the newest hour behind it and its source. Hours are stored by their UTC <em>start</em>;
        EIA labels hours by their end, and we shift them once at ingestion. On these pages “data through 14:00” means the newest hour
        included <em>ends</em> at 14:00 (shown in the BA&apos;s local time, yours, or UTC, as chosen in Settings), and “N min ago” counts from then.</p>
      <p>The definitions below are the ones published with the API (the <a href="/docs">API reference</a> shows the same text), so the site and the API cannot disagree.</p>
      <h2 id="sources">Sources</h2>
      <ul>
        <li><strong>EIA Form EIA-930</strong> (U.S. Energy Information Administration, Open Data API v2: region-data, fuel-type-data, interchange-data): hourly demand, day-ahead demand forecast, net generation, total interchange, generation by fuel and BA-to-BA interchange of every reporting balancing authority (BA).</li>
        <li><strong>Emission factors</strong>: IPCC AR5 (2014) lifecycle medians as used by Electricity Maps, and direct-combustion factors; per-BA overrides (e.g. from EPA eGRID) when present. Table below.</li>
        <li><strong>Simulated grid</strong>: without an EIA key, a deterministic simulation fills the store; everything it produces is marked <span className="tag tag-sim">simulated</span>.</li>
      </ul>
      <h2 id="scale">Colour scale</h2>
      <p>Carbon intensity in gCO₂eq/kWh, in bins of 100 on the viridis palette (ordered for the common colour-vision deficiencies and in greyscale). The number is always printed beside the colour.</p>
      <p className="legend">{intensityLegend().map((l) => <span key={l.label} className="chip" style={{ background: l.background, color: l.text }}>{l.label}</span>)}</p>
      <p>Freshness: <span className="fresh fresh-fresh">fresh</span> within the series&apos; usual EIA publishing delay, <span className="fresh fresh-late">late</span> beyond it, <span className="fresh fresh-stale">stale</span> far beyond it. A <span className="tag tag-stale">cached answer</span> is the last good answer, served while the database did not respond.</p>
      {METRICS.map((m) => {
        const def = definitions[m.id];
        return (
          <section key={m.id} aria-labelledby={m.id}>
            <h2 id={m.id}>{m.title}</h2>
            {def ? <><p><strong>{def.summary}.</strong></p>{def.description ? <p><ApiText text={def.description} /></p> : null}<p className="muted">From <code>GET {m.path}</code>.</p></>
              : <p className="notice">The definition is published with <code>GET {m.path}</code>, which is not deployed on this server yet.</p>}
          </section>
        );
      })}
      <h2 id="factors">Emission factors</h2>
      {!factors.ok ? <Missing what="The emission-factor table" part={factors} /> : (
        <>
          <div className="table-scroll">
            <table>
              <caption>gCO₂eq per kWh generated</caption>
              <thead><tr><th scope="col">Fuel</th><th scope="col">Code</th><th scope="col">Lifecycle</th><th scope="col">Direct</th><th scope="col">Renewable</th><th scope="col">Carbon-free</th></tr></thead>
              <tbody>{factors.data.fuels.map((f) => <tr key={f.code}><th scope="row">{f.name}</th><td>{f.code}</td><td className="num">{f.lifecycle ?? 'storage rule'}</td><td className="num">{f.direct ?? 'storage rule'}</td><td>{f.renewable ? 'yes' : 'no'}</td><td>{f.carbonFree ? 'yes' : 'no'}</td></tr>)}</tbody>
            </table>
          </div>
          <p><strong>Storage:</strong> {factors.data.storageRule}</p>
          {factors.data.negativeRule ? <p><strong>Negative generation:</strong> {factors.data.negativeRule}</p> : null}
          {factors.data.overrides.length ? (
            <table><caption>Per-BA overrides</caption><thead><tr><th scope="col">BA</th><th scope="col">Fuel</th><th scope="col">Set</th><th scope="col">Value</th><th scope="col">Source</th></tr></thead>
              <tbody>{factors.data.overrides.map((o) => <tr key={`${o.ba}-${o.fuel}-${o.set}`}><th scope="row">{o.ba}</th><td>{o.fuel}</td><td>{o.set}</td><td className="num">{o.value}</td><td>{o.source}</td></tr>)}</tbody></table>
          ) : <p>No per-BA overrides are in force.</p>}
        </>
      )}
      <h2 id="egrid-sets">eGRID factor sets (<code>factors=egrid-YYYY</code>)</h2>
      <p>Every intensity endpoint also takes <code>factors=egrid-2022</code> (or any imported eGRID year). For each balancing authority and EIA-930
        fuel, the factor is then the generation-weighted CO₂ output rate of that BA&apos;s plants of the fuel in EPA&apos;s eGRID: 2,000 × the sum of
        their CO₂ short tons / the sum of their net MWh, in lb/MWh, × 0.4536 to get kg/MWh (= g/kWh). A plant counts under its primary fuel category,
        and only plants that generated more than they consumed count.</p>
      <p><strong>Why the number differs from the lifecycle one.</strong> The lifecycle set gives every coal plant in the country 820 g/kWh and every gas
        plant 490: IPCC medians that include mining, fuel transport, construction and methane leaks. eGRID measures what each BA&apos;s own plants emitted at
        the stack in that year: older, less efficient coal units push a BA&apos;s coal factor above 820 (MISO&apos;s eGRID2022 coal is about 1,000 kg/MWh),
        efficient combined-cycle gas pulls its gas factor below 490, and wind, solar, hydro and nuclear are near 0 instead of 11–45, because their
        lifecycle emissions are not stack emissions. eGRID counts CO₂ only (not CH₄ and N₂O as CO₂eq), and lags the grid by about two years.</p>
      <p>Where a BA has no eGRID plants of a fuel it reports, that fuel keeps its lifecycle factor, and the answer lists it in
        <code>egrid.fellBack</code> with the eGRID edition in <code>egrid.edition</code>. Storage keeps the storage rule above.</p>
    </article>
  );
}
