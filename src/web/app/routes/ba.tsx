import { useMemo, type ReactNode } from 'react';
import { Form, Link, useLoaderData, useNavigate, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { egridFuelName, type PlantPage } from '../lib/egrid-types.ts';
import { webContext } from '../lib/context.ts';
import type { BaNow, BaselineMetric, CleanWindow, Duck, Forecast, ForecastAccuracy, Hourly, PlainAnswer, Pulse, SeriesFreshness } from '../lib/api-types.ts';
import { hourlyColumns, part, requireBa } from '../lib/loaders.ts';
import { addDays, dateTimeLabel, HOUR_MS, hourLabel, localDate, zonedMidnight } from '../lib/time.ts';
import { badQuery, queryDate } from '../lib/page-query.ts';
import { useDisplayZone } from '../lib/use-zone.ts';
import { useLiveUpdates } from '../lib/live.ts';
import { fmtInt, fmtMw, fmtPct, fmtSigned, fmtSignedPct, fuelColour, fuelName } from '../lib/format.ts';
import { Freshness, SourceMark } from '../components/freshness.tsx';
import { ConsumptionChip, IntensityChip } from '../components/intensity-chip.tsx';
import { Missing } from '../components/missing.tsx';
import { ChartBlock, type ChartSpec } from '../components/chart.tsx';
import { seriesColours } from '../lib/scale.ts';
import { EmbedPanel } from '../components/embed-panel.tsx';
import { BaPicker } from '../components/ba-picker.tsx';
import { SaveView } from '../components/save-view.tsx';
import { askedRange } from '../lib/view-range.ts';
import { mayBeSignedIn } from '../lib/me-api.ts';

export const meta: MetaFunction<typeof loader> = ({ loaderData: data }) => [
  { title: data ? `${data.ba.code} — ${data.ba.name} · GridPulse` : 'GridPulse' },
  { name: 'description', content: data ? `Carbon intensity, demand and fuel mix of ${data.ba.name}, hour by hour.` : '' },
];

export async function loader({ params, request, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const ba = await requireBa(web, params.code);
  if (params.code !== ba.code) throw new Response(null, { status: 301, headers: { location: `/ba/${ba.code}${new URL(request.url).search}` } });
  const asked = queryDate(new URL(request.url).searchParams);
  const c = ba.code;
  const latest = asked === null;
  // Latest: the 72 hours up to now. A chosen day: that BA-local day and the two before it.
  const hourNow = Math.floor(web.now().getTime() / HOUR_MS) * HOUR_MS;
  // a saved view opens the latest page with its own hours (from/to, up to 31 days)
  const viewRange = askedRange(new URL(request.url).searchParams, 31);
  if (!latest && viewRange) badQuery('from', 'absent when a date is given (a day or a range, not both)', new URL(request.url).searchParams.get('from') ?? '');
  const from = viewRange?.from ?? (latest ? new Date(hourNow - 71 * HOUR_MS) : zonedMidnight(addDays(asked, -2), ba.timeZone));
  const to = viewRange?.to ?? (latest ? new Date(hourNow + HOUR_MS) : zonedMidnight(addDays(asked, 1), ba.timeZone));
  const range = `from=${from.toISOString()}&to=${to.toISOString()}`;
  // Every answer the page needs, requested at once (they are cached by the analytics layer).
  const [now, pulse, bas, hourly, clean, forecast, duck, freshness, accuracy, plain] = await Promise.all([
    web.api<BaNow>(`/api/v1/bas/${c}/now`),
    web.api<Pulse>(`/api/v1/bas/${c}/pulse${latest ? '' : `?date=${asked}`}`),
    web.reference<{ data: Array<{ code: string; name: string }> }>('/api/v1/bas'),
    hourlyColumns(web, c, from, to),
    web.api<CleanWindow>(`/api/v1/bas/${c}/clean-window?duration=PT3H${latest ? '' : `&${range}`}`),
    latest ? web.api<Forecast>(`/api/v1/bas/${c}/forecast?hours=48`) : Promise.resolve(undefined),
    web.api<Duck>(`/api/v1/bas/${c}/duck?${range}`),
    web.api<SeriesFreshness>(`/api/v1/bas/${c}/freshness`),
    latest ? web.api<ForecastAccuracy>(`/api/v1/bas/${c}/forecast/accuracy?days=7`) : Promise.resolve(undefined),
    latest ? web.api<PlainAnswer>(`/api/v1/bas/${c}/answer?duration=PT3H`) : Promise.resolve(undefined),
  ]);
  const plants = await web.api<PlantPage>(`/api/v1/egrid/plants?ba=${c}&sort=-capacity&pageSize=10`);
  const today = localDate(web.now(), ba.timeZone);
  const date = !latest ? asked : pulse.ok ? pulse.data.date : (now.ok && now.data.hour ? localDate(now.data.hour, ba.timeZone) : today);
  return {
    ba, date, today, latest, custom: viewRange !== undefined, maybeSignedIn: mayBeSignedIn(request), from: from.toISOString(), to: to.toISOString(), now: web.now().toISOString(),
    current: part(now), pulse: part(pulse), hourly, clean: part(clean), forecast: forecast ? part(forecast) : null,
    accuracy: accuracy?.ok ? accuracy.data : null,
    // the answer in words, computed once on the server (its clock times are text, so hydration cannot disagree)
    plain: plain?.ok ? plain.data.sentence : null,
    plants: plants.ok ? plants.data : null,
    duck: part(duck), freshness: part(freshness), bas: bas.ok ? bas.data.data.map((b) => ({ code: b.code, name: b.name })) : [],
  };
}

type Data = Awaited<ReturnType<typeof loader>>;

/** "Plants in this BA": the largest plants EPA's eGRID places in this BA, when eGRID is imported. */
function PlantsSection({ d }: { d: Data }) {
  const p = d.plants;
  if (!p) return null;
  return (
    <section aria-labelledby="plants-h">
      <h2 id="plants-h">Plants in this BA <span className="muted">({p.edition})</span></h2>
      {p.total === 0 ? <p className="muted">eGRID {p.year} places no plants in {d.ba.code}.</p> : (
        <>
          <p>{fmtInt(p.total)} plants; the largest by nameplate capacity. <Link to={`/egrid?ba=${d.ba.code}&year=${p.year}`}>All on the map</Link> · <Link to={`/egrid/reports/ba/${d.ba.code}?year=${p.year}`}>eGRID report</Link></p>
          <table data-table="ba-plants"><thead><tr><th scope="col">Plant</th><th scope="col">State</th><th scope="col">Fuel</th><th scope="col">MW</th><th scope="col">CO₂ lb/MWh</th></tr></thead>
            <tbody>{p.data.map((x) => <tr key={x.orispl}><th scope="row"><Link to={`/egrid/plants/${x.orispl}?year=${p.year}`}>{x.plantName ?? x.orispl}</Link></th><td>{x.state}</td><td>{egridFuelName(x.fuelCategory)}</td><td className="num">{fmtInt(x.nameplateMw)}</td><td className="num">{fmtInt(x.co2RateLbPerMwh)}</td></tr>)}</tbody></table>
        </>
      )}
    </section>
  );
}

const FUEL_ORDER = ['NUC', 'COL', 'NG', 'OIL', 'OTH', 'BIO', 'GEO', 'WAT', 'PS', 'BAT', 'WND', 'SUN'];
const fuelRank = (f: string) => { const i = FUEL_ORDER.indexOf(f); return i === -1 ? FUEL_ORDER.length : i; };

function Card({ title, value, detail, href }: { title: string; value: ReactNode; detail?: ReactNode; href: string }) {
  return (
    <div className="card">
      <h3><a href={href}>{title}</a></h3>
      <div className="big">{value}</div>
      {detail ? <p>{detail}</p> : null}
    </div>
  );
}

/** A card's figure: the digits never split, the unit may wrap under them in a narrow card; no unit beside a dash. */
function Qty({ n, unit }: { n: string; unit: string }) {
  return n === '—' ? <>{n}</> : <><span className="qty">{n}</span> <span className="qty-unit">{unit}</span></>;
}

const METRIC_LABELS: Record<string, string> = {
  demandEnergy: 'Energy', peakDemand: 'Peak demand', minDemand: 'Minimum demand', renewableShare: 'Renewable share',
  avgIntensity: 'Average intensity, produced', forecastMape: 'EIA forecast error (MAPE)', netInterchange: 'Net interchange',
};

const fmtMetric = (v: number | null, unit: string) =>
  (unit === 'fraction' ? fmtPct(v) : v === null ? '—' : unit === '%' ? `${v.toFixed(1)} %` : fmtInt(v));

function Diff({ m, unit, reason }: { m: BaselineMetric['priorWeeks']; unit: string; reason: string | undefined }) {
  if (!m) return <span className="muted" title={reason}>—{reason ? <span className="sr-only"> ({reason})</span> : null}</span>;
  const cls = m.diff > 0 ? 'pos' : m.diff < 0 ? 'neg' : undefined;
  const diff = unit === 'fraction' ? `${fmtSignedPct(m.diff * 100).replace(' %', ' pts')}` : unit === '%' ? fmtSignedPct(m.diff).replace(' %', ' pts') : fmtSigned(m.diff);
  return <span className={cls} title={`baseline ${fmtMetric(m.value, unit)}`}>{diff}{m.pct === null ? '' : ` (${fmtSignedPct(m.pct)})`}</span>;
}

function baselineRows(p: Pulse): BaselineMetric[] {
  if (!p.baseline) return [];
  return Array.isArray(p.baseline) ? p.baseline : p.baseline.metrics ?? [];
}

function NowSection({ d, zone }: { d: Data; zone: { timeZone: string; label: string } }) {
  if (!d.current.ok) return <Missing what="The current hour (What's Powering Me)" part={d.current} />;
  const n = d.current.data;
  return (
    <section aria-labelledby="now-h">
      <div className="ba-head">
        <h2 id="now-h">Now: hour from {hourLabel(n.hour, zone.timeZone)} {zone.label}</h2>
        <Freshness dataThrough={n.dataThrough} status={n.freshness.status} lagMinutes={n.freshness.lagMinutes} timeZone={d.ba.timeZone} now={d.now} />
        <SourceMark source={n.source} stale={n.stale} />
      </div>
      <div className="cards">
        <Card title="Carbon intensity (consumed)" href="/methodology#consumption" value={<ConsumptionChip value={n.intensity.consumption} flags={n.intensity.flags?.consumption} />}
          detail={<>produced here: {fmtInt(n.intensity.production)} g/kWh{n.latestConsumption ? <>; consumed {fmtInt(n.latestConsumption.value)} g/kWh at {hourLabel(n.latestConsumption.hour, zone.timeZone)} {zone.label}, the newest hour with interchange</> : null}</>} />
        <Card title="Demand" href="/methodology#demand" value={<Qty n={fmtInt(n.demandMw)} unit="MW" />} detail={<>net generation {fmtMw(n.netGenerationMw)}</>} />
        <Card title="Renewable share" href="/methodology#renewable-share" value={fmtPct(n.renewableShare)} detail={<>carbon-free {fmtPct(n.carbonFreeShare)}</>} />
        <Card title="Imports" href="/methodology#interchange" value={n.imports.length ? <Qty n={fmtInt(n.imports.reduce((a, b) => a + b.mw, 0))} unit="MW" /> : '—'}
          detail={n.imports.slice(0, 3).map((i) => `${i.ba} ${fmtSigned(i.mw, ' MW')}`).join(', ') || 'no neighbour data'} />
      </div>
      {n.mix.length ? (
        <details>
          <summary>Fuel mix this hour</summary>
          <table><thead><tr><th scope="col">Fuel</th><th scope="col">MW</th><th scope="col">Share</th></tr></thead>
            <tbody>{n.mix.map((m) => <tr key={m.fuel}><th scope="row">{m.name || fuelName(m.fuel)}</th><td className="num">{fmtInt(m.mw)}</td><td className="num">{fmtPct(m.share, 1)}</td></tr>)}</tbody></table>
        </details>
      ) : null}
    </section>
  );
}

function PulseSection({ d, zone }: { d: Data; zone: { timeZone: string; label: string } }) {
  if (!d.pulse.ok) return <Missing what={`The Daily Pulse for ${d.date}`} part={d.pulse} />;
  const p = d.pulse.data;
  const base = baselineRows(p);
  return (
    <section aria-labelledby="pulse-h">
      <div className="ba-head">
        <h2 id="pulse-h">Daily Pulse, {p.date} <span className="muted">({p.hours} h local day)</span></h2>
        <Freshness dataThrough={p.dataThrough} timeZone={d.ba.timeZone} now={d.now} />
        <SourceMark source={p.source} stale={p.stale} />
      </div>
      <div className="cards">
        <Card title="Peak demand" href="/methodology#demand" value={<Qty n={fmtInt(p.demand.peakMw)} unit="MW" />} detail={p.demand.peakAt ? `at ${hourLabel(p.demand.peakAt, zone.timeZone)} ${zone.label}` : undefined} />
        <Card title="Minimum demand" href="/methodology#demand" value={<Qty n={fmtInt(p.demand.minMw)} unit="MW" />} detail={p.demand.minAt ? `at ${hourLabel(p.demand.minAt, zone.timeZone)} ${zone.label}` : undefined} />
        <Card title="Energy" href="/methodology#demand" value={<Qty n={fmtInt(p.demand.energyMwh)} unit="MWh" />} detail={p.reasons?.['demand.energyMwh']} />
        <Card title="EIA forecast error" href="/methodology#forecast-error" value={p.forecast.mapePct === null ? '—' : `${p.forecast.mapePct.toFixed(1)} % MAPE`} detail={p.forecast.biasPct === null ? undefined : `bias ${p.forecast.biasPct.toFixed(1)} %`} />
        <Card title="Renewable share" href="/methodology#renewable-share" value={fmtPct(p.renewableShare)} />
        <Card title="Average intensity (produced)" href="/methodology#intensity" value={<IntensityChip value={p.intensity.avg} />}
          detail={p.intensity.cleanest && p.intensity.dirtiest ? <>cleanest {hourLabel(p.intensity.cleanest.ts, zone.timeZone)} ({fmtInt(p.intensity.cleanest.value)}), dirtiest {hourLabel(p.intensity.dirtiest.ts, zone.timeZone)} ({fmtInt(p.intensity.dirtiest.value)})</> : undefined} />
        <Card title="Net interchange" href="/methodology#interchange" value={<Qty n={fmtSigned(p.netInterchangeMwh)} unit="MWh" />} detail={p.reasons?.['netInterchangeMwh'] ?? 'positive = net export'} />
      </div>
      {base.length ? (
        <div className="table-scroll">
          <table>
            <caption>Compared with the same weekday of the previous four weeks and with a year earlier (<a href="/methodology#baseline">how</a>)</caption>
            <thead><tr><th scope="col">Metric</th><th scope="col">This day</th><th scope="col">vs prior 4 weeks</th><th scope="col">vs last year</th></tr></thead>
            <tbody>{base.map((m) => (
              <tr key={m.metric}><th scope="row"><abbr title={m.definition}>{METRIC_LABELS[m.metric] ?? m.metric}</abbr> <span className="muted">({m.unit === 'fraction' ? '%' : m.unit})</span></th><td className="num" title={m.reasons?.value ?? undefined}>{fmtMetric(m.value, m.unit)}{m.value === null && m.reasons?.value ? <span className="sr-only"> ({m.reasons.value})</span> : null}</td><td><Diff m={m.priorWeeks} unit={m.unit} reason={m.reasons?.priorWeeks ?? undefined} /></td><td><Diff m={m.lastYear} unit={m.unit} reason={m.reasons?.lastYear ?? undefined} /></td></tr>
            ))}</tbody>
          </table>
        </div>
      ) : <p className="muted">No baseline comparison for this day (not enough history).</p>}
    </section>
  );
}

function chartSpecs(d: Data): { specs: ChartSpec[]; notes: Record<string, string> } {
  const notes: Record<string, string> = {};
  if (!d.hourly.ok) return { specs: [], notes };
  const h: Hourly = d.hourly.data;
  const specs: ChartSpec[] = [];
  specs.push({
    id: 'demand', title: 'Demand and EIA day-ahead forecast', unit: 'MW', ts: h.ts,
    series: [{ label: 'Demand', values: h.demand, colour: '#0072b2' }, { label: 'EIA forecast', values: h.forecast, colour: '#e69f00', dash: [6, 4] }],
  });
  const fuels = Object.keys(h.fuels).sort((a, b) => fuelRank(a) - fuelRank(b));
  specs.push({
    id: 'generation', title: 'Generation by fuel (stacked)', unit: 'MW', ts: h.ts, stacked: true,
    series: fuels.map((f) => ({ label: fuelName(f), values: h.fuels[f]!.map((v) => (v === null ? null : Math.max(0, v))), colour: fuelColour(f) })),
  });
  notes.generation = 'Negative values (station load, storage charging) are drawn at zero; the table and CSV keep them.';
  // The forecast continues the observed hours: its points fill the empty hours at the end and extend the axis.
  const fc = d.forecast?.ok ? d.forecast.data.points : [];
  const index = new Map(h.ts.map((t, i) => [Date.parse(t), i]));
  const ts = [...h.ts, ...fc.filter((p) => !index.has(Date.parse(p.ts))).map((p) => p.ts)];
  const pad = (v: (number | null)[]) => [...v, ...ts.slice(v.length).map(() => null)];
  const forecastColumn = (pick: (p: (typeof fc)[number]) => number | null) => {
    const out = ts.map((): number | null => null);
    for (const p of fc) {
      const i = index.get(Date.parse(p.ts)) ?? ts.indexOf(p.ts);
      if (i >= 0) out[i] = pick(p);
    }
    return out;
  };
  const clean = d.clean.ok ? (d.clean.data.optimal.length ? d.clean.data.optimal : d.clean.data.best.slice(0, 1)) : [];
  specs.push({
    id: 'intensity', title: 'Carbon intensity, production and consumption based', unit: 'gCO2eq/kWh', ts,
    series: [
      { label: 'Consumption', values: pad(h.intensity.consumption), colour: '#cc79a7' },
      { label: 'Production', values: pad(h.intensity.production), colour: '#009e73', dash: [4, 3] },
      ...(fc.length ? [
        { label: 'Forecast', values: forecastColumn((p) => p.intensity), colour: '#0072b2', dash: [2, 3] },
        { label: 'Forecast low', values: forecastColumn((p) => p.intensityLow), colour: '#56b4e980' },
        { label: 'Forecast high', values: forecastColumn((p) => p.intensityHigh), colour: '#56b4e980' },
      ] : []),
    ],
    ...(fc.length ? { bands: [[3, 4] as [number, number]] } : {}),
    shade: clean.map((w) => ({ start: w.start, end: w.end })),
  });
  const track = d.accuracy?.targets.intensity.all;
  const trackNote = track && track.hours > 0 && track.mapePct !== null && track.naiveMapePct !== null
    ? ` Over the last ${d.accuracy!.days} days the stored forecasts were off by ${track.mapePct.toFixed(1)} % on average (repeating the last observed day: ${track.naiveMapePct.toFixed(1)} %; ${track.hours} forecast hours).`
    : '';
  const forecastNote = fc.length ? ' Blue band: the 48-hour forecast range.'
    : d.forecast && !d.forecast.ok ? ` No 48-hour forecast: ${d.forecast.missing ? 'the forecast endpoint is not deployed on this server yet' : d.forecast.detail}.` : '';
  notes.intensity = (clean.length
    ? `Shaded: the cleanest 3-hour window${clean.length > 1 ? 's' : ''} (from ${d.clean.ok ? d.clean.data.input : ''}).`
    : 'No clean-window answer for this range.') + forecastNote + trackNote;
  if (d.duck.ok && d.duck.data.hours.length) {
    const dh = d.duck.data.hours;
    specs.push({
      id: 'duck', title: 'Duck curve: demand and net load (demand − solar − wind)', unit: 'MW', ts: dh.map((x) => x.ts),
      series: [
        { label: 'Demand', values: dh.map((x) => x.demandMw), colour: '#0072b2' },
        { label: 'Net load', values: dh.map((x) => x.netLoadMw), colour: '#d55e00' },
        { label: 'Solar', values: dh.map((x) => x.solarMw), colour: '#b8a600' },
        { label: 'Wind', values: dh.map((x) => x.windMw), colour: '#56b4e9' },
      ],
    });
    const day = d.duck.data.days.find((x) => x.date === d.date) ?? d.duck.data.days.at(-1);
    notes.duck = day ? `Duck score ${day.score === null ? '—' : day.score.toFixed(2)} on ${day.date}: belly ${fmtMw(day.bellyMw)}, evening ramp ${fmtMw(day.rampMw)}.` : '';
  }
  const neighbours = Object.keys(h.interchange).sort();
  if (neighbours.length) {
    const colours = seriesColours(neighbours.length);
    specs.push({
      id: 'interchange', title: 'Interchange by neighbour (positive = export)', unit: 'MW', ts: h.ts,
      series: neighbours.map((n, i) => ({ label: n, values: h.interchange[n]!, colour: colours[i]! })),
    });
  }
  return { specs, notes };
}

function InterchangeTable({ h }: { h: Hourly }) {
  const rows = Object.entries(h.interchange).map(([n, v]) => {
    const ex = v.reduce<number>((a, x) => a + Math.max(0, x ?? 0), 0);
    const im = v.reduce<number>((a, x) => a + Math.max(0, -(x ?? 0)), 0);
    return { n, ex, im };
  }).sort((a, b) => (b.ex + b.im) - (a.ex + a.im));
  if (!rows.length) return <p className="muted">No BA-to-BA interchange reported in this range.</p>;
  return (
    <table>
      <caption>Energy exchanged with each neighbour over the hours charted above</caption>
      <thead><tr><th scope="col">Neighbour</th><th scope="col">Exports (MWh)</th><th scope="col">Imports (MWh)</th><th scope="col">Net (MWh)</th></tr></thead>
      <tbody>{rows.map((r) => <tr key={r.n}><th scope="row"><Link to={`/ba/${r.n}`}>{r.n}</Link></th><td className="num">{fmtInt(r.ex)}</td><td className="num">{fmtInt(r.im)}</td><td className="num">{fmtSigned(r.ex - r.im)}</td></tr>)}</tbody>
    </table>
  );
}

export default function BaPage() {
  const d = useLoaderData<typeof loader>();
  const zone = useDisplayZone(d.ba.timeZone);
  const navigate = useNavigate();
  const live = useLiveUpdates([d.ba.code]);
  // Same loader data, same chart specs: a re-render (live status, new event) must not redraw every chart.
  const { specs, notes } = useMemo(() => chartSpecs(d), [d]);
  const h = d.hourly;
  return (
    <>
      <div className="ba-head">
        <h1>{d.ba.code} <span className="muted">{d.ba.name}</span></h1>
        <span className="muted" title="EIA-930 reporting time zone: the BA's local days use it">{d.ba.region} · {d.ba.interconnection} · reports in {d.ba.timeZone}{d.ba.geographicTimeZone !== d.ba.timeZone ? ` (lies in ${d.ba.geographicTimeZone})` : ''}</span>
        {d.ba.retiredOn ? <span className="tag tag-retired" title="EIA retired this balancing authority: no newer hours will come">retired {d.ba.retiredOn}</span> : null}
      </div>
      {d.plain ? <p className="plain-answer" role="status">{d.plain} <a href="#charts-h">the hours behind it</a></p> : null}
      <div className="toolbar">
        <BaPicker bas={d.bas} current={d.ba.code} date={d.latest ? null : d.date} />
        <Form method="get" className="inline-form" onChange={(e) => { const v = (e.currentTarget.elements.namedItem('date') as HTMLInputElement).value; if (v) void navigate(`?date=${v}`); }}>
          <label>Day ({d.ba.timeZone}) <input type="date" name="date" defaultValue={d.date} max={d.today} key={d.date} /></label>
          <button type="submit">Show day</button>
        </Form>
        <nav aria-label="Days" className="inline-form">
          <Link to={`?date=${addDays(d.date, -1)}`} rel="prev">← {addDays(d.date, -1)}</Link>
          {d.date < d.today ? <Link to={`?date=${addDays(d.date, 1)}`} rel="next">{addDays(d.date, 1)} →</Link> : null}
          {!d.latest ? <Link to=".">latest</Link> : null}
        </nav>
        <span className="muted" aria-live="polite">{live.connected ? '● live' : ''}{live.lastEvent ? ` · updated with data to ${dateTimeLabel(live.lastEvent, zone.timeZone)}` : ''}</span>
      </div>
      {d.latest ? <NowSection d={d} zone={zone} /> : null}
      <SaveView page="ba" bas={[d.ba.code]} from={d.from} to={d.to} charts={['demand', 'generation', 'intensity']} maybeSignedIn={d.maybeSignedIn} />
      <PulseSection d={d} zone={zone} />
      <section aria-labelledby="charts-h">
        <div className="ba-head">
          <h2 id="charts-h">{d.custom ? `Hour by hour, ${dateTimeLabel(d.from, zone.timeZone)} to ${dateTimeLabel(d.to, zone.timeZone)}` : d.latest ? 'The last 72 hours' : `Hour by hour, ${addDays(d.date, -2)} to ${d.date}`}</h2>
          {h.ok ? <><Freshness dataThrough={h.data.dataThrough} timeZone={d.ba.timeZone} now={d.now} /><SourceMark source={h.data.source} stale={h.data.stale} /></> : null}
        </div>
        {!h.ok ? <Missing what="Hourly data" part={h} /> : null}
        {specs.map((s) => <ChartBlock key={s.id} spec={s} timeZone={zone.timeZone} zoneLabel={zone.label} note={notes[s.id] ? <span className="muted">{notes[s.id]}</span> : undefined} />)}
        {!d.duck.ok ? <Missing what="The duck curve" part={d.duck} /> : null}
        <h2>Imports and exports by neighbour</h2>
        {h.ok ? <InterchangeTable h={h.data} /> : null}
      </section>
      {d.freshness.ok ? (
        <details>
          <summary>Freshness of every series</summary>
          <table><thead><tr><th scope="col">Series</th><th scope="col">Newest hour</th><th scope="col">Lag</th><th scope="col">Expected</th><th scope="col">Status</th></tr></thead>
            <tbody>{d.freshness.data.series.map((s) => <tr key={s.key}><th scope="row">{s.key}</th><td>{s.newest ? `${dateTimeLabel(s.newest, zone.timeZone)} ${zone.label}` : '—'}</td><td className="num">{s.lagMinutes ?? '—'} min</td><td className="num">{s.expectedLagMinutes} min</td><td><span className={`fresh fresh-${s.status}`}>{s.status}</span></td></tr>)}</tbody></table>
        </details>
      ) : null}
      <PlantsSection d={d} />
      <EmbedPanel code={d.ba.code} />
    </>
  );
}
