import { data, useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import type { ReactNode } from 'react';
import type { BaNow, CleanWindow, Envelope, FreshStatus, Pulse, Source } from '../lib/api-types.ts';
import { EMBED_KINDS, type EmbedKind } from '../lib/embed-kinds.ts';
import { part, requireBa } from '../lib/loaders.ts';
import { fmtMw, fmtPct } from '../lib/format.ts';
import { hourLabel, dateTimeLabel } from '../lib/time.ts';
import { useDisplayZone } from '../lib/use-zone.ts';
import { useLiveUpdates } from '../lib/live.ts';
import { Freshness, SourceMark } from '../components/freshness.tsx';
import { ConsumptionChip, IntensityChip } from '../components/intensity-chip.tsx';

const KINDS = EMBED_KINDS.map((k) => k.kind);

export const meta: MetaFunction<typeof loader> = ({ loaderData }) => [{ title: loaderData ? `${loaderData.ba.code} · GridPulse embed` : 'GridPulse embed' }];

/** /embed/ba/{code}/{now|pulse|clean-window}: minimal cards meant for an iframe on other sites. */
export async function loader({ params, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const kind = params.kind as EmbedKind;
  if (!KINDS.includes(kind)) throw data(`Embeds are ${KINDS.join(', ')}.`, { status: 404, statusText: 'Not Found' });
  const ba = await requireBa(web, params.code);
  const path = kind === 'now' ? 'now' : kind === 'pulse' ? 'pulse' : 'clean-window?duration=PT3H';
  const answer = await web.api<BaNow | Pulse | CleanWindow>(`/api/v1/bas/${ba.code}/${path}`);
  return { ba, kind, answer: part(answer), now: web.now().toISOString() };
}

/** The source, always named: EIA-930, or the SIMULATED / mixed / cached tag. */
function EmbedSource({ source, stale }: { source: Source; stale: boolean }) {
  return (
    <span data-embed="source" className="embed-source">
      {source === 'eia' ? <span className="muted">EIA-930</span> : null}
      <SourceMark source={source} stale={stale} />
    </span>
  );
}

/**
 * Each kind fits the iframe its snippet suggests (lib/embed-kinds.ts): a head with the BA and the source
 * label, the answer, and a foot with freshness and the link back, which stays at the bottom of the box.
 */
export default function Embed() {
  const { ba, kind, answer, now } = useLoaderData<typeof loader>();
  const zone = useDisplayZone(ba.timeZone);
  useLiveUpdates([ba.code]);
  const link = <a href={`/ba/${ba.code}`} target="_top">GridPulse · {ba.code}</a>;
  const retired = ba.retiredOn ? <p className="tag tag-retired">{`${ba.code} retired ${ba.retiredOn}: EIA-930 has no newer hours`}</p> : null;
  if (!answer.ok) return <main className={`embed-card embed-${kind}`}>{retired ?? <p>{ba.code}: no data available yet.</p>}<div className="embed-foot">{link}</div></main>;
  const card = (head: ReactNode, body: ReactNode, envelope: Envelope, freshness?: { status: FreshStatus; lagMinutes: number }) => (
    <main className={`embed-card embed-${kind}`}>
      <div className="embed-head">{head}<EmbedSource source={envelope.source} stale={envelope.stale} /></div>
      {retired}
      {body}
      <div className="embed-foot">
        <span data-embed="freshness"><Freshness dataThrough={envelope.dataThrough} status={freshness?.status} lagMinutes={freshness?.lagMinutes} timeZone={ba.timeZone} now={now} /></span>
        {link}
      </div>
    </main>
  );
  if (kind === 'now') {
    const n = answer.data as BaNow;
    return card(
      <span className="embed-title"><strong title={ba.name}>{ba.name}</strong> now</span>,
      <div className="embed-main">
        <span className="big"><ConsumptionChip value={n.intensity.consumption} flags={n.intensity.flags?.consumption} /></span>
        <span><span data-embed="renewable">{fmtPct(n.renewableShare)} renewable</span><br /><span data-embed="demand">demand {fmtMw(n.demandMw)}</span></span>
      </div>,
      n, n.freshness,
    );
  }
  if (kind === 'pulse') {
    const p = answer.data as Pulse;
    return card(
      <span className="embed-title"><strong>{ba.code}</strong> Daily Pulse, {p.date}</span>,
      <ul>
        <li data-embed="demand">Peak demand {fmtMw(p.demand.peakMw)}{p.demand.peakAt ? ` at ${hourLabel(p.demand.peakAt, zone.timeZone)}` : ''}</li>
        <li>Avg intensity, produced <IntensityChip value={p.intensity.avg} /></li>
        <li data-embed="renewable">Renewable share {fmtPct(p.renewableShare)}</li>
        <li>EIA forecast error {p.forecast.mapePct === null ? '—' : `${p.forecast.mapePct.toFixed(1)} %`}</li>
      </ul>,
      p,
    );
  }
  const c = answer.data as CleanWindow;
  const w = c.optimal[0] ?? c.best[0];
  return card(
    <span className="embed-title">Cleanest 3 h in <strong>{ba.code}</strong></span>,
    <>
      {w ? <p className="big embed-when">{dateTimeLabel(w.start, zone.timeZone)}–{hourLabel(w.end, zone.timeZone)} {zone.label}</p> : <p>No window in range.</p>}
      {w ? (
        <p>average <IntensityChip value={w.avg} />{' '}
          <span data-embed="savings">{c.runNow ? `${Math.round(c.runNow.savingsPct)} % less than now` : 'no saving vs now: these hours are past'}</span>
        </p>
      ) : null}
    </>,
    c,
  );
}
