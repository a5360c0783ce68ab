import { useEffect, useState } from 'react';
import { useRouteLoaderData } from 'react-router';
import type { loader as rootLoader } from '../root.tsx';
import { meCall } from '../lib/me-api.ts';

/**
 * "Save this view" for signed-in visitors on /compare and /ba/{code}: names the BAs and range shown and
 * stores them at /api/v1/me/views (as shown, or as a relative range that moves with time). Shows nothing
 * to anonymous visitors (and, when the page request carried no credentials, does not even ask).
 */
export function SaveView({ page, bas, from, to, charts, maybeSignedIn }: { page: 'compare' | 'ba'; bas: string[]; from: string; to: string; charts: string[]; maybeSignedIn: boolean }) {
  const csrf = useRouteLoaderData<typeof rootLoader>('root')?.csrf ?? '';
  const [signedIn, setSignedIn] = useState(false);
  const [status, setStatus] = useState('');
  useEffect(() => { if (maybeSignedIn) void meCall('GET', '/api/v1/me', csrf).then((r) => setSignedIn(r.ok)); }, [csrf, maybeSignedIn]);
  if (!signedIn) return null;
  const hours = Math.round((Date.parse(to) - Date.parse(from)) / 3_600_000);
  const save = async (form: HTMLFormElement) => {
    const data = new FormData(form);
    const range = data.get('range') === 'relative' ? { kind: 'relative', last: hours % 24 === 0 ? `P${hours / 24}D` : `PT${hours}H` } : { kind: 'absolute', from, to };
    const r = await meCall<{ id: string }>('POST', '/api/v1/me/views', csrf, { name: String(data.get('name') ?? ''), page, bas, range, charts });
    setStatus(r.ok ? 'Saved: see your views.' : `Not saved: ${r.detail}`);
  };
  return (
    <form className="inline-form save-view" aria-label="Save this view" onSubmit={(e) => { e.preventDefault(); void save(e.currentTarget); }}>
      <label>Name <input name="name" required maxLength={120} defaultValue={bas.join(', ')} /></label>
      <label>Range <select name="range" defaultValue="relative">
        <option value="relative">the last {hours % 24 === 0 ? `${hours / 24} days` : `${hours} hours`}, whenever opened</option>
        <option value="absolute">exactly these hours</option>
      </select></label>
      <button type="submit">Save this view</button>
      <span role="status">{status}{status.startsWith('Saved') ? <> <a href="/account/views">Your views</a></> : null}</span>
    </form>
  );
}
