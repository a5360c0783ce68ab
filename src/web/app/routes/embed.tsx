import { data, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import type { BaNow, CleanWindow, Pulse } from '../lib/api-types.ts';
import { part, requireBa } from '../lib/loaders.ts';
import { fmtMw, fmtPct } from '../lib/format.ts';
import { hourLabel, dateTimeLabel } from '../lib/time.ts';
import { useDisplayZone } from '../lib/use-zone.ts';
import { useLiveUpdates } from '../lib/live.ts';
import { Freshness, SourceMark } from '../components/freshness.tsx';
import { ConsumptionChip, IntensityChip } from '../components/intensity-chip.tsx';

const KINDS = ['now', 'pulse', 'clean-window'] as const;
type Kind = (typeof KINDS)[number];

export const meta: MetaFunction<typeof loader> = ({ loaderData }) => [{ title: loaderData ? `${loaderData.ba.code} · GridPulse embed` : 'GridPulse embed' }];

/** /embed/ba/{code}/{now|pulse|clean-window}: minimal cards meant for an iframe on other sites. */
export async function loader({ params, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const kind = params.kind as Kind;
  if (!KINDS.includes(kind)) throw data(`Embeds are ${KINDS.join(', ')}.`, { status: 404, statusText: 'Not Found' });
  const ba = await requireBa(web, params.code);
  const path = kind === 'now' ? 'now' : kind === 'pulse' ? 'pulse' : 'clean-window?duration=PT3H';
  const answer = await web.api<BaNow | Pulse | CleanWindow>(`/api/v1/bas/${ba.code}/${path}`);
  return { ba, kind, answer: part(answer), now: web.now().toISOString() };
}

export default function Embed() {
  const { ba, kind, answer, now } = useLoaderData<typeof loader>();
  const zone = useDisplayZone(ba.timeZone);
  useLiveUpdates([ba.code]);
  const link = <a href={`/ba/${ba.code}`} target="_top">GridPulse · {ba.code}</a>;
  const retired = ba.retiredOn ? <p className="tag tag-retired">{`${ba.code} retired ${ba.retiredOn}: EIA-930 has no newer hours`}</p> : null;
  if (!answer.ok) return <main className="embed-card">{retired ?? <p>{ba.code}: no data available yet.</p>}{link}</main>;
  const body = (() => {
    if (kind === 'now') {
      const n = answer.data as BaNow;
      return (<>
        <p>Electricity in <strong>{ba.name}</strong> now</p>
        <p className="big"><ConsumptionChip value={n.intensity.consumption} flags={n.intensity.flags?.consumption} /></p>
        <p>{fmtPct(n.renewableShare)} renewable · demand {fmtMw(n.demandMw)}</p>
        <Freshness dataThrough={n.dataThrough} status={n.freshness.status} lagMinutes={n.freshness.lagMinutes} timeZone={ba.timeZone} now={now} />
        <SourceMark source={n.source} stale={n.stale} />
      </>);
    }
    if (kind === 'pulse') {
      const p = answer.data as Pulse;
      return (<>
        <p><strong>{ba.code}</strong> Daily Pulse, {p.date}</p>
        <ul>
          <li>Peak demand {fmtMw(p.demand.peakMw)}{p.demand.peakAt ? ` at ${hourLabel(p.demand.peakAt, zone.timeZone)}` : ''}</li>
          <li>Average intensity (produced) <IntensityChip value={p.intensity.avg} /></li>
          <li>Renewable share {fmtPct(p.renewableShare)}</li>
          <li>EIA forecast error {p.forecast.mapePct === null ? '—' : `${p.forecast.mapePct.toFixed(1)} %`}</li>
        </ul>
        <Freshness dataThrough={p.dataThrough} timeZone={ba.timeZone} now={now} /> <SourceMark source={p.source} stale={p.stale} />
      </>);
    }
    const c = answer.data as CleanWindow;
    const w = c.optimal[0] ?? c.best[0];
    return (<>
      <p>Cleanest 3 hours to use power in <strong>{ba.code}</strong></p>
      {w ? <p className="big">{dateTimeLabel(w.start, zone.timeZone)}–{hourLabel(w.end, zone.timeZone)} {zone.label}</p> : <p>No window in range.</p>}
      {w ? <p>average <IntensityChip value={w.avg} />{c.runNow ? `, ${Math.round(c.runNow.savingsPct)} % less than running now` : ''}</p> : null}
      <Freshness dataThrough={c.dataThrough} timeZone={ba.timeZone} now={now} /> <SourceMark source={c.source} stale={c.stale} />
    </>);
  })();
  return <main className="embed-card">{retired}{body}<p>{link}</p></main>;
}
