import { data, Form, Link, useLoaderData, useNavigate, useSearchParams, useSubmit, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext, type WebContext } from '../lib/context.ts';
import type { Ba, Located, NowAll, NowRow, PipelineFreshness, PlainAnswer } from '../lib/api-types.ts';
import { locateQuery, type WhereAnswer } from '../lib/where.ts';
import { Freshness, SourceMark } from '../components/freshness.tsx';
import { ConsumptionChip } from '../components/intensity-chip.tsx';
import { CsrfField } from '../components/csrf-field.tsx';
import { fmtMw, fmtPct } from '../lib/format.ts';
import { intensityLegend } from '../lib/scale.ts';
import { usePrefs } from '../lib/use-zone.ts';
import { filterRows, SORT_KEYS, type SortKey } from '../lib/filter-rows.ts';
import { queryChoice } from '../lib/page-query.ts';
import { useLiveUpdates } from '../lib/live.ts';

export const meta: MetaFunction = () => [
  { title: 'GridPulse — the US grid now' },
  { name: 'description', content: 'Carbon intensity, demand and renewable share of every US balancing authority, with honest freshness.' },
];

/** Without /api/v1/now, the list of BAs and the newest demand hour per BA, and nothing we can't show. */
async function fallbackRows(web: WebContext, now: Date): Promise<NowRow[]> {
  const [bas, fresh] = await Promise.all([web.reference<{ data: Ba[] }>('/api/v1/bas'), web.api<PipelineFreshness>('/api/v1/pipeline/freshness')]);
  const newest = new Map<string, string>();
  for (const f of (fresh.ok ? fresh.data.data : [])) if (f.type === 'demand' || !newest.has(f.ba)) newest.set(f.ba, f.newest);
  return (bas.ok ? bas.data.data : []).map((b) => {
    const through = newest.get(b.code) ?? null;
    return {
      ba: b.code, name: b.name, region: b.region, interconnection: b.interconnection, timeZone: b.timeZone, hour: through,
      intensity: null, productionIntensity: null, demandMw: null, renewableShare: null, source: 'none', dataThrough: through,
      freshness: { status: undefined as never, lagMinutes: through ? Math.round((now.getTime() - Date.parse(through)) / 60_000) : 0 },
    };
  });
}

async function whereAnswer(web: WebContext, params: URLSearchParams): Promise<(WhereAnswer & { status: number }) | null> {
  const q = locateQuery(params);
  if (!q) return null;
  if ('error' in q) return { asked: q.asked, error: q.error, located: null, answer: null, status: 400 };
  const located = await web.api<Located>(`/api/v1/locate?${q.query}`);
  if (!located.ok) return { asked: q.asked, error: located.status === 404 ? `GridPulse does not know ${q.asked}.` : located.detail, located: null, answer: null, status: located.status < 500 ? located.status : 200 };
  const ba = located.data.ba;
  const answer = ba ? await web.api<PlainAnswer>(`/api/v1/bas/${ba}/answer?duration=PT3H`) : undefined;
  return { asked: q.asked, error: null, located: located.data, answer: answer?.ok ? answer.data : null, status: 200 };
}

export async function loader({ context, request }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const now = web.now();
  const params = new URL(request.url).searchParams;
  // The table's order and scope come from the URL: a value the page cannot honour is refused, not ignored.
  queryChoice(params, 'sort', SORT_KEYS);
  queryChoice(params, 'dir', ['asc', 'desc']);
  queryChoice(params, 'show', ['data', 'all']);
  const [answer, where] = await Promise.all([web.api<NowAll>('/api/v1/now'), whereAnswer(web, params)]);
  // A place GridPulse could not read (a bad ZIP, a latitude out of range) answers 400, with the page and the reason.
  const init = { status: where?.status ?? 200 };
  if (answer.ok) return data({ rows: answer.data.data, notice: null, now: now.toISOString(), where }, init);
  return data({
    rows: await fallbackRows(web, now), now: now.toISOString(), where,
    notice: `Current intensity, demand and renewable share need the analytics endpoint /api/v1/now, which answered: ${answer.detail}. Showing balancing authorities and the newest stored hour only.`,
  }, init);
}

function WherePanel({ where }: { where: WhereAnswer }) {
  if (where.error || !where.located) return <p className="notice" role="status">{where.error}</p>;
  const l = where.located;
  return (
    <div className="where-answer" role="status">
      {where.answer ? <p className="plain-answer">{where.answer.sentence}</p> : null}
      <p>{l.note}{l.subregion ? ` eGRID subregion ${l.subregion}.` : ''}{l.utility ? ` Utility: ${l.utility}.` : ''}</p>
      {l.ba ? <p><Link to={`/ba/${l.ba}`}>See {l.ba} hour by hour</Link>{l.multiple ? <> · or {l.bas.filter((b) => b.covered && b.code !== l.ba).map((b, i) => <span key={b.code}>{i ? ', ' : ''}<Link to={`/ba/${b.code}`}>{b.code}</Link></span>)}</> : null}</p> : null}
    </div>
  );
}

function SortHeader({ k, label, params }: { k: SortKey; label: string; params: URLSearchParams }) {
  const active = (params.get('sort') ?? 'ba') === k;
  const dir = active && params.get('dir') !== 'desc' ? 'desc' : 'asc';
  const next = new URLSearchParams(params);
  next.set('sort', k); next.set('dir', dir);
  return (
    <th scope="col" aria-sort={active ? (params.get('dir') === 'desc' ? 'descending' : 'ascending') : 'none'}>
      <Link to={`?${next}`} preventScrollReset>{label}{active ? (params.get('dir') === 'desc' ? ' ▼' : ' ▲') : ''}</Link>
    </th>
  );
}

export default function Home() {
  const { rows, notice, now, where } = useLoaderData<typeof loader>();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const submit = useSubmit();
  const prefs = usePrefs();
  useLiveUpdates('all');
  const shown = filterRows(rows, params);
  const regions = [...new Set(rows.map((r) => r.region))].sort();
  const ics = [...new Set(rows.map((r) => r.interconnection))].sort();
  const mine = prefs.ba ? rows.find((r) => r.ba === prefs.ba) : undefined;
  return (
    <>
      <h1>The US grid, hour by hour</h1>
      {notice ? <p className="notice" role="status">{notice}</p> : null}
      <section className="where" aria-labelledby="where-h">
        <h2 id="where-h">How clean is my power now, and when should I run the dishwasher?</h2>
        <Form method="get" className="inline-form" role="search">
          <label>Where are you? <input name="where" inputMode="text" autoComplete="postal-code" defaultValue={where?.asked === 'your location' ? '' : where?.asked ?? ''} placeholder="ZIP code or state: 94110, TX" maxLength={12} /></label>
          <button type="submit">Tell me</button>
          <button type="button" onClick={() => navigator.geolocation?.getCurrentPosition((p) => void navigate(`/?lat=${p.coords.latitude.toFixed(4)}&lon=${p.coords.longitude.toFixed(4)}`))}>Use my location</button>
        </Form>
        {where ? <WherePanel where={where} /> : null}
      </section>
      <section className="mine" aria-label="Your balancing authority">
        {mine ? (
          <p>Your balancing authority: <Link to={`/ba/${mine.ba}`}><strong>{mine.ba}</strong> {mine.name}</Link> <ConsumptionChip value={mine.intensity} flags={mine.intensityFlags} /> <Freshness dataThrough={mine.dataThrough} status={mine.freshness?.status} lagMinutes={mine.freshness?.lagMinutes} timeZone={mine.timeZone} now={now} /></p>
        ) : <p>Pick your balancing authority to see it here and in the menu.</p>}
        <Form method="post" action="/prefs" className="inline-form">
          <CsrfField />
          <input type="hidden" name="redirectTo" value="/" />
          <label>Default BA <select name="ba" defaultValue={prefs.ba ?? ''}>
            <option value="">none</option>
            {rows.map((r) => <option key={r.ba} value={r.ba}>{r.ba} — {r.name}</option>)}
          </select></label>
          <button type="submit">Save</button>
        </Form>
      </section>
      <Form method="get" className="filters" role="search" onChange={(e) => { if ((e.target as HTMLElement).tagName === 'SELECT') void submit(e.currentTarget, { preventScrollReset: true, replace: true }); }}>
        <label>Search <input type="search" name="q" defaultValue={params.get('q') ?? ''} placeholder="CISO, Texas…" /></label>
        <label>Region <select name="region" defaultValue={params.get('region') ?? ''}><option value="">all</option>{regions.map((r) => <option key={r}>{r}</option>)}</select></label>
        <label>Interconnection <select name="interconnection" defaultValue={params.get('interconnection') ?? ''}><option value="">all</option>{ics.map((r) => <option key={r}>{r}</option>)}</select></label>
        <label>Show <select name="show" defaultValue={params.get('show') ?? 'data'}><option value="data">BAs with data</option><option value="all">all BAs</option></select></label>
        {params.get('sort') ? <input type="hidden" name="sort" value={params.get('sort')!} /> : null}
        {params.get('dir') ? <input type="hidden" name="dir" value={params.get('dir')!} /> : null}
        <button type="submit">Filter</button>
      </Form>
      <p className="legend" aria-label="Carbon intensity scale, gCO2eq per kWh consumed">
        <span>gCO₂eq/kWh:</span>{intensityLegend().map((l) => <span key={l.label} className="chip" style={{ background: l.background, color: l.text }}>{l.label}</span>)}
        <a href="/methodology#intensity">what this is</a>
      </p>
      <div className="table-scroll">
        <table className="bas" aria-describedby="count">
          <caption id="count">{shown.length} of {rows.length} balancing authorities</caption>
          <thead><tr>
            <SortHeader k="ba" label="BA" params={params} />
            <th scope="col">Region</th>
            <SortHeader k="intensity" label="Intensity (g/kWh)" params={params} />
            <SortHeader k="demand" label="Demand" params={params} />
            <SortHeader k="renewable" label="Renewable" params={params} />
            <SortHeader k="lag" label="Freshness" params={params} />
          </tr></thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.ba} className={r.freshness?.status === 'stale' ? 'row-stale' : undefined}>
                <th scope="row"><Link to={`/ba/${r.ba}`}><strong>{r.ba}</strong> <span className="muted">{r.name}</span></Link> <SourceMark source={r.source} /></th>
                <td>{r.region} · {r.interconnection}</td>
                <td><ConsumptionChip value={r.intensity} flags={r.intensityFlags} unit={false} /></td>
                <td className="num">{fmtMw(r.demandMw)}</td>
                <td className="num">{fmtPct(r.renewableShare)}</td>
                <td><Freshness dataThrough={r.dataThrough} status={r.freshness?.status} lagMinutes={r.freshness?.lagMinutes} timeZone={r.timeZone} now={now} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
