import { useLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import type { CheckFinding, PipelineFreshness, PipelineRun } from '../lib/api-types.ts';
import { part } from '../lib/loaders.ts';
import { Missing } from '../components/missing.tsx';
import { agoLabel, dateTimeLabel } from '../lib/time.ts';
import { fmtInt } from '../lib/format.ts';
import { useDisplayZone } from '../lib/use-zone.ts';

export const meta: MetaFunction = () => [{ title: 'Data pipeline · GridPulse' }];

export async function loader({ context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const [runs, fresh, checks] = await Promise.all([
    web.api<{ data: PipelineRun[] }>('/api/v1/pipeline/runs?limit=30'),
    web.api<PipelineFreshness>('/api/v1/pipeline/freshness'),
    web.api<{ data: CheckFinding[] }>('/api/v1/pipeline/checks?limit=50'),
  ]);
  return { runs: part(runs), fresh: part(fresh), checks: part(checks), now: web.now().toISOString() };
}

const n = (v: unknown) => (typeof v === 'number' ? fmtInt(v) : v === null || v === undefined ? '—' : String(v));

export default function Pipeline() {
  const d = useLoaderData<typeof loader>();
  const zone = useDisplayZone(undefined);
  const byBa = new Map<string, Array<{ type: string; newest: string; lagMinutes: number }>>();
  if (d.fresh.ok) for (const f of d.fresh.data.data) byBa.set(f.ba, [...(byBa.get(f.ba) ?? []), f]);
  const types = d.fresh.ok ? [...new Set(d.fresh.data.data.map((f) => f.type))].sort() : [];
  return (
    <>
      <h1>Data pipeline</h1>
      <p>Every ingestion run with what it fetched, stored and rejected, and the newest stored hour of each BA and series type. Times in {zone.label}. Two different steps act on the data: <strong>on the way in</strong>, a row that cannot be stored (a value that does not parse, an unknown BA or series, conflicting duplicates of one hour) is refused and counted under Rejected, with its reason in the run; <strong>after storing</strong>, the <a href="#checks">quality checks</a> only flag suspicious hours (<a href="/methodology#quality">quality flags</a>) and never drop or change a stored value.</p>
      <h2>Ingestion runs</h2>
      {!d.runs.ok ? <Missing what="The run ledger" part={d.runs} /> : d.runs.data.data.length === 0 ? <p>No runs yet.</p> : (
        <div className="table-scroll">
          <table>
            <caption>Newest first</caption>
            <thead><tr><th scope="col">Run</th><th scope="col">Kind</th><th scope="col">Source</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Fetched</th><th scope="col">Inserted</th><th scope="col">Updated</th><th scope="col">Rejected</th><th scope="col">Requests</th><th scope="col">Retries</th><th scope="col">Errors</th></tr></thead>
            <tbody>{d.runs.data.data.map((r) => (
              <tr key={r.id}>
                <th scope="row">#{r.id}</th><td>{n(r.kind)}</td><td>{n(r.source)}</td>
                <td><span className={`fresh fresh-${r.status === 'succeeded' || r.status === 'ok' ? 'fresh' : r.status === 'running' || r.status === 'partial' ? 'late' : r.status === 'failed' ? 'stale' : 'unknown'}`}>{n(r.status)}</span></td>
                <td>{r.startedAt ? dateTimeLabel(r.startedAt, zone.timeZone) : '—'}</td>
                <td className="num">{n(r.rowsFetched)}</td><td className="num">{n(r.rowsInserted)}</td><td className="num">{n(r.rowsUpdated)}</td>
                <td className="num">{n(r.rowsRejected)}</td><td className="num">{n(r.requests)}</td><td className="num">{n(r.retries)}</td>
                <td>{Array.isArray(r.errors) && r.errors.length ? <details><summary>{r.errors.length}</summary><pre>{JSON.stringify(r.errors, null, 1).slice(0, 2000)}</pre></details> : '0'}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <h2 id="checks">Quality checks</h2>
      <p>Checks run over stored hours and flag them; they never drop or change a stored value (refusing bad rows is the ingestion step above). Definitions are in the <a href="/docs">API reference</a> (pipeline/checks).</p>
      {!d.checks.ok ? <Missing what="Quality-check findings" part={d.checks} /> : d.checks.data.data.length === 0 ? <p>No findings: every check passed on the stored hours.</p> : (
        <div className="table-scroll">
          <table>
            <caption>The 50 newest findings</caption>
            <thead><tr><th scope="col">Run</th><th scope="col">Check</th><th scope="col">Series</th><th scope="col">Hours</th><th scope="col">Flagged</th><th scope="col">Severity</th></tr></thead>
            <tbody>{d.checks.data.data.map((c) => (
              <tr key={c.id}>
                <th scope="row">#{c.runId}</th><td>{c.check.replaceAll('_', ' ')}</td><td><a href={`/ba/${c.ba}`}>{c.series}</a></td>
                <td>{dateTimeLabel(c.from, zone.timeZone)}{c.to !== c.from ? ` – ${dateTimeLabel(c.to, zone.timeZone)}` : ''}</td>
                <td className="num">{n(c.count)}</td><td><span className={`fresh fresh-${c.severity === 'error' ? 'stale' : c.severity === 'warning' ? 'late' : 'unknown'}`}>{c.severity}</span></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <h2>Freshness per balancing authority</h2>
      {!d.fresh.ok ? <Missing what="Freshness" part={d.fresh} /> : byBa.size === 0 ? <p>No stored hours yet.</p> : (
        <div className="table-scroll">
          <table>
            <caption>Newest stored hour start per series type, and how long ago it was</caption>
            <thead><tr><th scope="col">BA</th>{types.map((t) => <th key={t} scope="col">{t.replaceAll('_', ' ')}</th>)}</tr></thead>
            <tbody>{[...byBa].map(([ba, list]) => (
              <tr key={ba}><th scope="row"><a href={`/ba/${ba}`}>{ba}</a></th>{types.map((t) => {
                const f = list.find((x) => x.type === t);
                return <td key={t}>{f ? <><time dateTime={f.newest}>{dateTimeLabel(f.newest, zone.timeZone)}</time> <span className="muted">({agoLabel(f.lagMinutes)})</span></> : '—'}</td>;
              })}</tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </>
  );
}
