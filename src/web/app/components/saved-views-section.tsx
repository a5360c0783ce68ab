import { useCallback, useEffect, useState } from 'react';
import { useRouteLoaderData } from 'react-router';
import type { loader as rootLoader } from '../root.tsx';
import { meCall } from '../lib/me-api.ts';

interface View { id: string; name: string; page: 'compare' | 'ba'; bas: string[]; range: { kind: 'relative'; last: string } | { kind: 'absolute'; from: string; to: string }; href: string; shared: boolean }

const rangeText = (r: View['range']) => (r.kind === 'relative' ? `the last ${r.last.replace(/^PT?/, '').replace('D', ' days').replace('H', ' hours')}` : `${r.from.slice(0, 16)} to ${r.to.slice(0, 16)} UTC`);

/** The signed-in user's saved views (account page section): open, share by link, revoke the link, delete. */
export function SavedViewsSection() {
  const csrf = useRouteLoaderData<typeof rootLoader>('root')?.csrf ?? '';
  const [views, setViews] = useState<View[] | null>(null);
  const [message, setMessage] = useState('');
  const [links, setLinks] = useState<Record<string, string>>({});
  const load = useCallback(async () => {
    const r = await meCall<{ data: View[] }>('GET', '/api/v1/me/views', csrf);
    if (r.ok) setViews(r.data.data);
    else setMessage(r.status === 401 ? 'Sign in to see your saved views.' : r.detail);
  }, [csrf]);
  useEffect(() => { void load(); }, [load]);
  const act = async (method: 'POST' | 'DELETE', path: string, done: string, after?: (data: { url?: string }) => void) => {
    const r = await meCall<{ url?: string }>(method, path, csrf);
    setMessage(r.ok ? done : r.detail);
    if (r.ok) after?.(r.data ?? {});
    await load();
  };
  return (
    <section aria-labelledby="views-h" className="account-views">
      <h2 id="views-h">Saved views</h2>
      <p role="status">{message}</p>
      {views === null ? null : views.length === 0 ? <p>No saved views yet: use “Save this view” on a BA or compare page.</p> : (
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Page</th><th scope="col">Range</th><th scope="col">Share</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>{views.map((v) => (
            <tr key={v.id} data-view={v.id}>
              <th scope="row"><a href={v.href}>{v.name}</a></th>
              <td>{v.page === 'ba' ? `/ba/${v.bas[0]}` : `compare ${v.bas.join(', ')}`}</td>
              <td>{rangeText(v.range)}</td>
              <td>
                {links[v.id] ? <><a href={links[v.id]}>{new URL(links[v.id]!, window.location.href).href}</a> </> : v.shared ? 'shared ' : null}
                <button type="button" onClick={() => void act('POST', `/api/v1/me/views/${v.id}/share`, 'A new link was made; any earlier one stops working.', (d) => setLinks((l) => ({ ...l, [v.id]: d.url ?? '' })))}>{v.shared ? 'New link' : 'Share by link'}</button>
                {v.shared ? <button type="button" onClick={() => void act('DELETE', `/api/v1/me/views/${v.id}/share`, 'Link revoked.', () => setLinks((l) => ({ ...l, [v.id]: '' })))}>Revoke link</button> : null}
              </td>
              <td><button type="button" onClick={() => void act('DELETE', `/api/v1/me/views/${v.id}`, `Deleted “${v.name}”.`)}>Delete</button></td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}
