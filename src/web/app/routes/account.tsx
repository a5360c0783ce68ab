import { Form, redirect, useActionData, useLoaderData, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { CsrfField } from '../components/csrf-field.tsx';
import { SavedViewsSection } from '../components/saved-views-section.tsx';
import { AlertsSection } from '../components/alerts-section.tsx';
import { requireViewer, signinHref, type PageAccess } from '../lib/require-viewer.ts';
import { field, type KeyRow, type Me, type SessionRow } from '../lib/account-api.ts';

/** Personal pages are never stored by browsers or shared caches. */
export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'Account · GridPulse' }];

export const access: PageAccess = 'signed-in';

export async function loader({ context, request }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const [me, sessions, keys] = await Promise.all([
    web.call<Me>('GET', '/api/v1/me'),
    web.call<{ sessions: SessionRow[] }>('GET', '/api/v1/me/sessions'),
    web.call<{ keys: KeyRow[] }>('GET', '/api/v1/me/keys'),
  ]);
  if (!me.ok) throw redirect(signinHref(request));
  return { me: me.data, sessions: sessions.ok ? sessions.data.sessions : [], keys: keys.ok ? keys.data.keys : [] };
}

type Result = { ok?: string; error?: string; token?: string };

/** POST /account: one form per change, told apart by `intent`; each is an API call as the visitor. */
export async function action({ request, context }: ActionFunctionArgs): Promise<Result | Response> {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const form = await request.formData();
  const intent = field(form, 'intent');
  const out = (res: { ok: boolean; detail?: string }, ok: string): Result => (res.ok ? { ok } : { error: (res as { detail: string }).detail });
  switch (intent) {
    case 'profile': return out(await web.call('PATCH', '/api/v1/me', { displayName: field(form, 'displayName') }), 'Name saved.');
    case 'password': {
      const res = await web.call('POST', '/api/v1/me/password', { currentPassword: field(form, 'currentPassword'), newPassword: field(form, 'newPassword') });
      return res.ok ? redirect('/signin?next=/account', 303) : { error: res.detail };
    }
    case 'revoke-all': {
      const res = await web.call('POST', '/api/v1/me/sessions/revoke-all');
      return res.ok ? redirect('/signin', 303) : { error: res.detail };
    }
    case 'end-session': return out(await web.call('DELETE', `/api/v1/me/sessions/${encodeURIComponent(field(form, 'id'))}`), 'Session ended.');
    case 'create-key': {
      const scopes = form.getAll('scope').filter((s): s is string => typeof s === 'string');
      const res = await web.call<{ token: string }>('POST', '/api/v1/me/keys', { name: field(form, 'name') || undefined, scopes, ...(field(form, 'expiresAt') ? { expiresAt: field(form, 'expiresAt') } : {}) });
      return res.ok ? { ok: 'Key created. Copy it now: it is not shown again.', token: res.data.token } : { error: res.detail };
    }
    case 'revoke-key': return out(await web.call('DELETE', `/api/v1/me/keys/${encodeURIComponent(field(form, 'id'))}`), 'Key revoked.');
    default: return { error: `unknown action '${intent}'` };
  }
}

const when = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '—');

export default function Account() {
  const { me, sessions, keys } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>() as Result | undefined;
  return (
    <section>
      <h1>Your account</h1>
      {result?.error ? <p className="notice" role="alert">{result.error}</p> : null}
      {result?.ok ? <p role="status">{result.ok}</p> : null}
      {result?.token ? <p><label>Your new key <input readOnly value={result.token} size={70} onFocus={(e) => e.currentTarget.select()} /></label></p> : null}

      <h2>Profile</h2>
      <p>{me.email} · role <strong>{me.role}</strong> · member since {when(me.createdAt)}</p>
      <Form method="post" className="inline-form">
        <CsrfField /><input type="hidden" name="intent" value="profile" />
        <label>Display name <input name="displayName" defaultValue={me.displayName} maxLength={100} /></label>
        <button type="submit">Save</button>
      </Form>
      <Form method="post" action="/signout"><CsrfField /><button type="submit">Sign out</button></Form>

      <h2>Password</h2>
      <p className="muted">Changing it signs you out everywhere. At least 12 characters; common passwords are refused.</p>
      <Form method="post" className="inline-form">
        <CsrfField /><input type="hidden" name="intent" value="password" />
        <label>Current password <input type="password" name="currentPassword" autoComplete="current-password" required /></label>
        <label>New password <input type="password" name="newPassword" autoComplete="new-password" minLength={12} required /></label>
        <button type="submit">Change password</button>
      </Form>

      <h2>Sessions</h2>
      <div className="table-scroll">
        <table>
          <caption>Where you are signed in</caption>
          <thead><tr><th scope="col">Kind</th><th scope="col">Since</th><th scope="col">Last seen</th><th scope="col">Ends</th><th scope="col">From</th><th scope="col">Browser or client</th><th scope="col"><span className="sr-only">Action</span></th></tr></thead>
          <tbody>{sessions.map((s) => (
            <tr key={s.id}>
              <td>{s.kind === 'web' ? 'browser' : 'API'}{s.current ? ' (this one)' : ''}</td><td>{when(s.createdAt)}</td><td>{when(s.lastSeenAt)}</td><td>{when(s.expiresAt)}</td>
              <td>{s.ip ?? '—'}</td><td>{s.userAgent ?? '—'}</td>
              <td><Form method="post"><CsrfField /><input type="hidden" name="intent" value="end-session" /><input type="hidden" name="id" value={s.id} /><button type="submit">End</button></Form></td>
            </tr>
          ))}</tbody>
        </table>
      </div>
      <Form method="post"><CsrfField /><input type="hidden" name="intent" value="revoke-all" /><button type="submit">Sign out everywhere</button></Form>

      <h2>API keys</h2>
      <p className="muted">Personal keys let your scripts call the API as you, within the scopes you give them. Send one as <code>Authorization: Bearer gp_…</code>.</p>
      {keys.length === 0 ? <p>No keys yet.</p> : (
        <div className="table-scroll">
          <table>
            <caption>Your keys</caption>
            <thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">From</th><th scope="col">Status</th></tr></thead>
            <tbody>{keys.map((k) => (
              <tr key={k.id}>
                <td><code>{k.id}</code></td><td>{k.name ?? '—'}</td><td>{k.scopes.join(' ')}</td><td>{when(k.createdAt)}</td><td>{when(k.expiresAt)}</td><td>{when(k.lastUsedAt)}</td><td>{k.lastUsedIp ?? '—'}</td>
                <td>{k.revokedAt ? `revoked ${when(k.revokedAt)}` : (
                  <Form method="post"><CsrfField /><input type="hidden" name="intent" value="revoke-key" /><input type="hidden" name="id" value={k.id} /><button type="submit">Revoke</button></Form>
                )}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <Form method="post" className="inline-form">
        <CsrfField /><input type="hidden" name="intent" value="create-key" />
        <label>Name <input name="name" maxLength={100} placeholder="my notebook" /></label>
        <fieldset>
          <legend>Scopes</legend>
          {['me:read', 'views:read', 'views:write', 'alerts:read', 'alerts:write'].map((s) => (
            <label key={s} className="check"><input type="checkbox" name="scope" value={s} defaultChecked={s === 'me:read'} /> {s}</label>
          ))}
        </fieldset>
        <label>Expires (optional) <input type="date" name="expiresAt" /></label>
        <button type="submit">Create key</button>
      </Form>

      <SavedViewsSection />
      <AlertsSection />
    </section>
  );
}
