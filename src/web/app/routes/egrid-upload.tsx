import { useEffect, useState, type FormEvent } from 'react';
import { Link, useRouteLoaderData, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import type { loader as rootLoader } from '../root.tsx';
import { webContext } from '../lib/context.ts';
import { pageProblemDetail } from '../lib/page-problem.ts';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';

export const meta: MetaFunction = () => [{ title: 'Import eGRID files · GridPulse' }];

export const headers = () => ({ 'Cache-Control': 'no-store' });

/** The roles whose scopes include egrid:write (src/auth/scopes.ts), the API's own rule for POST /api/v1/egrid/uploads. */
export const access: PageAccess = ['admin', 'analyst'];

export function loader({ context, request }: LoaderFunctionArgs) {
  requireViewer(context.get(webContext), request, access);
  return null;
}

interface ImportState {
  id: number; status: string; phase: string | null; bytesTotal: number | null; bytesRead: number; rowsRead: number; rowsLoaded: number; rowsRejected: number;
  errors: Array<{ sheet: string; line: number; column?: string; message: string }>; message: string | null;
}

/**
 * Upload page for admins and analysts: sends the file to POST /api/v1/egrid/uploads (multipart, streamed by the server)
 * and follows the import job at GET /api/v1/egrid/imports/{id} until it ends, showing its progress and row errors.
 * Signed out: redirected to /signin; other roles: a 403 page. A refusal met later (a session ended meanwhile)
 * is shown in words for people (page-problem.ts), not as the API's detail.
 */
export default function Upload() {
  // cookie-signed API calls carry the anti-forgery token in X-CSRF-Token (src/auth/access-hook.ts)
  const csrf = useRouteLoaderData<typeof rootLoader>('root')?.csrf ?? '';
  const [job, setJob] = useState<ImportState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!job || ['succeeded', 'partial', 'failed'].includes(job.status)) return;
    const t = setTimeout(async () => {
      const res = await fetch(`/api/v1/egrid/imports/${job.id}`, { credentials: 'same-origin', headers: { 'x-csrf-token': csrf } });
      if (res.ok) setJob(await res.json() as ImportState);
      else setError(`Progress unavailable: ${pageProblemDetail(res.status, `HTTP ${res.status}`)}`);
    }, 1000);
    return () => clearTimeout(t);
  }, [job]);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setError(null); setJob(null); setBusy(true);
    try {
      const form = new FormData(e.currentTarget);
      const year = String(form.get('year') ?? '').trim();
      form.delete('year');
      const res = await fetch(`/api/v1/egrid/uploads${year ? `?year=${encodeURIComponent(year)}` : ''}`, { method: 'POST', body: form, credentials: 'same-origin', headers: { 'x-csrf-token': csrf } });
      const body = await res.json().catch(() => ({})) as { detail?: string; field?: string; importId?: number; duplicate?: boolean; import?: { id: number } | null };
      if (!res.ok) { setError(pageProblemDetail(res.status, body.detail ?? `HTTP ${res.status}`, body.field)); return; }
      if (body.duplicate) setError('This file was uploaded before: showing its latest import.');
      const id = body.importId ?? body.import?.id;
      if (id !== undefined) setJob({ id, status: 'queued', phase: null, bytesTotal: null, bytesRead: 0, rowsRead: 0, rowsLoaded: 0, rowsRejected: 0, errors: [], message: null });
    } finally { setBusy(false); }
  }

  const pct = job?.bytesTotal ? Math.round((100 * job.bytesRead) / job.bytesTotal) : null;
  return (
    <article className="prose">
      <h1>Import eGRID files</h1>
      <p>For admins and analysts. EPA&apos;s eGRID workbook (XLSX) or CSV exports of its sheets (PLNT, UNT, GEN, ST, BA, SRL, NRL, US); re-importing a year replaces it.
        The command line does the same: <code>gridpulse egrid import FILE [--year N]</code>.</p>
      <form onSubmit={submit} encType="multipart/form-data">
        <p><label>File <input type="file" name="file" accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" required /></label></p>
        <p><label>Data year (when the file does not say) <input name="year" inputMode="numeric" size={5} /></label></p>
        <p><button type="submit" disabled={busy}>{busy ? 'Uploading…' : 'Upload and import'}</button></p>
      </form>
      {error ? <p className="notice" role="alert">{error}</p> : null}
      {job ? (
        <section aria-live="polite">
          <h2>Import {job.id}: {job.status}{job.phase ? ` (${job.phase})` : ''}</h2>
          {pct !== null ? <progress max={100} value={pct}>{pct} %</progress> : null}
          <p>{job.rowsRead} rows read, {job.rowsLoaded} loaded, {job.rowsRejected} rejected.</p>
          {job.message ? <p className="notice">{job.message}</p> : null}
          {job.errors.length ? <table><caption>Row errors (first {job.errors.length})</caption><thead><tr><th scope="col">Sheet</th><th scope="col">Line</th><th scope="col">Column</th><th scope="col">Problem</th></tr></thead>
            <tbody>{job.errors.map((x, i) => <tr key={i}><td>{x.sheet}</td><td className="num">{x.line}</td><td>{x.column ?? ''}</td><td>{x.message}</td></tr>)}</tbody></table> : null}
          {['succeeded', 'partial'].includes(job.status) ? <p><Link to="/egrid">Open the plant explorer</Link></p> : null}
        </section>
      ) : null}
    </article>
  );
}
