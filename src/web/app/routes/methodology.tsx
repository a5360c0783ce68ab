import { useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import type { EmissionFactors } from '../lib/api-types.ts';
import { part } from '../lib/loaders.ts';
import { Missing } from '../components/missing.tsx';
import { intensityLegend } from '../lib/scale.ts';

export const meta: MetaFunction = () => [{ title: 'Methodology · GridPulse' }];

export async function loader({ context }: LoaderFunctionArgs) {
  return { factors: part(await context.get(webContext).api<EmissionFactors>('/api/v1/emission-factors')) };
}

export default function Methodology() {
  const { factors } = useLoaderData<typeof loader>();
  return (
    <article className="prose">
      <h1>How the numbers are made</h1>
      <p>Every number on GridPulse comes with the newest hour behind it and its source. Hours are stored by their UTC <em>start</em>;
        EIA labels hours by their end, and we shift them once at ingestion. “Data through 14:00” means the newest hour included ends at 14:00.</p>
      <h2 id="sources">Sources</h2>
      <ul>
        <li><strong>EIA Form EIA-930</strong> (U.S. Energy Information Administration, Open Data API v2, routes region-data, fuel-type-data and interchange-data): hourly demand, day-ahead demand forecast, net generation, total interchange, generation by fuel and BA-to-BA interchange for every reporting balancing authority (BA).</li>
        <li><strong>Emission factors</strong>: lifecycle medians from IPCC AR5 (2014) Annex III as used by Electricity Maps; direct-combustion factors as published by Electricity Maps. Overrides per BA (e.g. derived from EPA eGRID) are listed below when present.</li>
        <li><strong>Simulated grid</strong>: without an EIA key, a deterministic simulation fills the store. Everything it produces is marked <span className="tag tag-sim">simulated</span>.</li>
      </ul>
      <h2 id="demand">Demand</h2>
      <p>EIA series D, in MW averaged over the hour (numerically MWh per hour). Peak and minimum are the highest and lowest hours of the BA-local calendar day (23 or 25 hours on daylight-saving changes); energy is the sum of the day&apos;s hours in MWh.</p>
      <h2 id="forecast-error">EIA forecast error</h2>
      <p>EIA series DF (the BA&apos;s own day-ahead forecast) against D: MAPE = mean of |DF − D| / D over the day&apos;s hours with both values, in percent; bias = Σ(DF − D) / ΣD, positive when the forecast was too high.</p>
      <h2 id="intensity">Carbon intensity, production based</h2>
      <p>For each hour: Σ over fuels of generation × emission factor, divided by Σ generation, in gCO₂eq/kWh (= kg/MWh). Storage discharge is handled by the rule reported by the emission-factors API (below). Hours without fuel data are left empty, never guessed.</p>
      <h2 id="consumption">Carbon intensity, consumption based</h2>
      <p>What the electricity used in a BA emitted, imports included: each BA mixes its own production with its imports, then consumes or exports that mix. Per hour we solve the linear system
        x<sub>i</sub> · (G<sub>i</sub> + Σ<sub>j</sub> F<sub>j→i</sub>) − Σ<sub>j</sub> F<sub>j→i</sub> · x<sub>j</sub> = E<sub>i</sub> over all BAs (flow tracing, de Chalendar et al., PNAS 2019), where E is production emissions, G net generation and F the positive flows from BA-to-BA interchange. Hours where a neighbour was missing or the two sides of an interchange disagreed are flagged in the API.</p>
      <p>Colour scale (gCO₂eq/kWh), chosen to be readable with colour-vision deficiencies; the number is always printed beside the colour:</p>
      <p className="legend">{intensityLegend().map((l) => <span key={l.label} className="chip" style={{ background: l.background, color: l.text }}>{l.label}</span>)}</p>
      <h2 id="renewable-share">Renewable and carbon-free share</h2>
      <p>Renewable: solar, wind, hydro, geothermal and biomass generation divided by total generation of the hour or day. Carbon-free adds nuclear. Which fuel counts as what is listed in the table below.</p>
      <h2 id="interchange">Interchange</h2>
      <p>EIA BA-to-BA interchange in MW; positive means export from the BA to the neighbour. Net interchange of a day is the sum in MWh, positive = net export. Imports on the “now” card are the flows into the BA.</p>
      <h2 id="clean-window">Clean window</h2>
      <p>The best time to run a job of a given length (3 hours on BA pages): a window slides over the intensity forecast (or history, for past days) one point at a time; each window&apos;s value is the time-weighted average of the points it covers, only windows fully covered by data count, and every window tied at the minimum is returned (as the Green Software Foundation&apos;s Carbon Aware SDK does). Shaded in green on the intensity chart.</p>
      <h2 id="duck">Duck curve</h2>
      <p>Net load = demand − solar − wind, per hour. The daily score compares the depth of the midday belly with the evening ramp (definition and units in the API reference for /bas/{'{code}'}/duck).</p>
      <h2 id="baseline">Baselines</h2>
      <p>Each Daily Pulse metric is compared with the average of the same weekday in the previous four weeks and with the same local day a year earlier, as a difference and a percentage. Red means higher, green lower, whatever the metric: read the label.</p>
      <h2 id="freshness">Freshness</h2>
      <p>Each series has an expected publishing delay (demand about an hour; net generation and total interchange about a day; BA-to-BA interchange about two days). A number is <span className="fresh fresh-fresh">fresh</span> within that delay, <span className="fresh fresh-late">late</span> beyond it, and <span className="fresh fresh-stale">stale</span> when far beyond it (thresholds in the API&apos;s freshness endpoint). A <span className="tag tag-stale">cached answer</span> is the last good answer served while the database did not respond.</p>
      <h2 id="quality">Quality flags</h2>
      <p>Each stored hour carries a quality flag: 0 good, 1 estimated, 2 missing, 3 anomalous. Rejected values are counted per ingestion run on the <a href="/pipeline">pipeline page</a>.</p>
      <h2 id="factors">Emission factors</h2>
      {!factors.ok ? <Missing what="The emission-factor table" part={factors} /> : (
        <>
          <div className="table-scroll">
            <table>
              <caption>gCO₂eq per kWh generated</caption>
              <thead><tr><th scope="col">Fuel</th><th scope="col">Code</th><th scope="col">Lifecycle</th><th scope="col">Direct</th><th scope="col">Renewable</th><th scope="col">Carbon-free</th></tr></thead>
              <tbody>{factors.data.fuels.map((f) => <tr key={f.code}><th scope="row">{f.name}</th><td>{f.code}</td><td className="num">{f.lifecycle}</td><td className="num">{f.direct}</td><td>{f.renewable ? 'yes' : 'no'}</td><td>{f.carbonFree ? 'yes' : 'no'}</td></tr>)}</tbody>
            </table>
          </div>
          <p><strong>Storage:</strong> {factors.data.storageRule}</p>
          {factors.data.overrides.length ? (
            <table><caption>Per-BA overrides</caption><thead><tr><th scope="col">BA</th><th scope="col">Fuel</th><th scope="col">Set</th><th scope="col">Value</th><th scope="col">Source</th></tr></thead>
              <tbody>{factors.data.overrides.map((o) => <tr key={`${o.ba}-${o.fuel}-${o.set}`}><th scope="row">{o.ba}</th><td>{o.fuel}</td><td>{o.set}</td><td className="num">{o.value}</td><td>{o.source}</td></tr>)}</tbody></table>
          ) : <p>No per-BA overrides are in force.</p>}
        </>
      )}
      <h2 id="api">API</h2>
      <p>Everything here is available as JSON (and CSV for time series) from the <a href="/docs">API reference</a>.</p>
    </article>
  );
}
