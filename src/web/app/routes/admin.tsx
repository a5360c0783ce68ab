import { Form, useActionData, useLoaderData, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { CsrfField } from '../components/csrf-field.tsx';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';
import { field, type AuditRow, type InvitationRow, type UserRow } from '../lib/account-api.ts';

/** Personal pages are never stored by browsers or shared caches. */
export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'Administration · GridPulse' }];

const ROLES = ['admin', 'operator', 'analyst', 'viewer'];
const FILTERS = ['from', 'to', 'user', 'action'] as const;

export const access: PageAccess = ['admin'];

export async function loader({ context, request }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const viewer = requireViewer(web, request, access);
  const q = new URL(request.url).searchParams;
  const filter = new URLSearchParams();
  for (const f of FILTERS) { const v = q.get(f); if (v) filter.set(f, v); }
  filter.set('limit', '200');
  const [users, invitations, audit] = await Promise.all([
    web.call<{ users: UserRow[] }>('GET', '/api/v1/admin/users'),
    web.call<{ invitations: InvitationRow[] }>('GET', '/api/v1/admin/invitations'),
    web.call<{ records: AuditRow[] }>('GET', `/api/v1/admin/audit?${filter}`),
  ]);
  return {
    users: users.ok ? users.data.users : [], invitations: invitations.ok ? invitations.data.invitations : [],
    audit: audit.ok ? audit.data.records : [], auditError: audit.ok ? null : audit.detail,
    filter: Object.fromEntries(FILTERS.map((f) => [f, q.get(f) ?? ''])), csv: `/api/v1/admin/audit?${filter}&format=csv`, me: viewer.userId,
  };
}

type Result = { ok?: string; error?: string; link?: string };

export async function action({ request, context }: ActionFunctionArgs): Promise<Result> {
  const web = context.get(webContext);
  requireViewer(web, request, access);
  const form = await request.formData();
  switch (field(form, 'intent')) {
    case 'invite': {
      const res = await web.call<{ path: string }>('POST', '/api/v1/admin/invitations', { email: field(form, 'email'), role: field(form, 'role') });
      return res.ok ? { ok: 'Invitation created: send this link (valid 7 days, once). It is not shown again.', link: new URL(res.data.path, request.url).toString() } : { error: res.detail };
    }
    case 'revoke-invitation': {
      const res = await web.call('DELETE', `/api/v1/admin/invitations/${encodeURIComponent(field(form, 'id'))}`);
      return res.ok ? { ok: 'Invitation revoked.' } : { error: res.detail };
    }
    case 'user': {
      const res = await web.call('PATCH', `/api/v1/admin/users/${encodeURIComponent(field(form, 'id'))}`, { role: field(form, 'role') || undefined, status: field(form, 'status') || undefined });
      return res.ok ? { ok: 'User updated (their sessions ended if the role or status changed).' } : { error: res.detail };
    }
    default: return { error: 'unknown action' };
  }
}

export default function Admin() {
  const d = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <section>
      <h1>Administration</h1>
      {result?.error ? <p className="notice" role="alert">{result.error}</p> : null}
      {result?.ok ? <p role="status">{result.ok}</p> : null}
      {result?.link ? <p><label>Invitation link <input readOnly value={result.link} size={80} onFocus={(e) => e.currentTarget.select()} /></label></p> : null}

      <h2>Users</h2>
      <div className="table-scroll">
        <table>
          <caption>Every account</caption>
          <thead><tr><th scope="col">E-mail</th><th scope="col">Name</th><th scope="col">Role and status</th></tr></thead>
          <tbody>{d.users.map((u) => (
            <tr key={u.id}>
              <td>{u.email}</td><td>{u.displayName || '—'}</td>
              <td>
                <Form method="post" className="inline-form">
                  <CsrfField /><input type="hidden" name="intent" value="user" /><input type="hidden" name="id" value={u.id} />
                  <label>Role <select name="role" defaultValue={u.role} disabled={u.id === d.me}>{ROLES.map((r) => <option key={r}>{r}</option>)}</select></label>
                  <label>Status <select name="status" defaultValue={u.status} disabled={u.id === d.me}><option>active</option><option>disabled</option></select></label>
                  <button type="submit" disabled={u.id === d.me}>Save</button>
                </Form>
              </td>
            </tr>
          ))}</tbody>
        </table>
      </div>

      <h2>Invitations</h2>
      <Form method="post" className="inline-form">
        <CsrfField /><input type="hidden" name="intent" value="invite" />
        <label>E-mail <input type="email" name="email" required /></label>
        <label>Role <select name="role" defaultValue="viewer">{ROLES.map((r) => <option key={r}>{r}</option>)}</select></label>
        <button type="submit">Invite</button>
      </Form>
      {d.invitations.length === 0 ? <p>No invitations yet.</p> : (
        <div className="table-scroll">
          <table>
            <caption>Newest first</caption>
            <thead><tr><th scope="col">E-mail</th><th scope="col">Role</th><th scope="col">Kind</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">State</th></tr></thead>
            <tbody>{d.invitations.map((i) => (
              <tr key={i.id}>
                <td>{i.email}</td><td>{i.role}</td><td>{i.forUser ? 'sign-in link' : 'invitation'}</td><td>{i.createdAt.slice(0, 16)}</td><td>{i.expiresAt.slice(0, 16)}</td>
                <td>{i.usedAt ? 'used' : i.revokedAt ? 'revoked' : (
                  <Form method="post"><CsrfField /><input type="hidden" name="intent" value="revoke-invitation" /><input type="hidden" name="id" value={i.id} /><button type="submit">Revoke</button></Form>
                )}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}

      <h2>Audit log</h2>
      <Form method="get" className="filters">
        <label>From <input name="from" defaultValue={d.filter.from} placeholder="2026-11-01" /></label>
        <label>To <input name="to" defaultValue={d.filter.to} placeholder="2026-12-01" /></label>
        <label>User (id or e-mail) <input name="user" defaultValue={d.filter.user} /></label>
        <label>Action (auth. for all sign-in events) <input name="action" defaultValue={d.filter.action} /></label>
        <button type="submit">Filter</button>
        <a href={d.csv}>Download CSV</a>
      </Form>
      {d.auditError ? <p className="notice" role="alert">{d.auditError}</p> : null}
      <div className="table-scroll">
        <table>
          <caption>Newest 200 matching records</caption>
          <thead><tr><th scope="col">When (UTC)</th><th scope="col">Who</th><th scope="col">Role</th><th scope="col">Action</th><th scope="col">Object</th><th scope="col">Outcome</th><th scope="col">From</th><th scope="col">Request</th></tr></thead>
          <tbody>{d.audit.map((a) => (
            <tr key={a.id}>
              <td>{a.at.slice(0, 19).replace('T', ' ')}</td><td>{a.actorKind}{a.actorId ? ` ${a.actorId.slice(0, 8)}` : ''}</td><td>{a.role ?? '—'}</td><td>{a.action}</td>
              <td>{a.objectType ? `${a.objectType} ${a.objectId ?? ''}` : '—'}</td><td>{a.outcome}</td><td>{a.ip ?? '—'}</td><td><code>{a.requestId?.slice(0, 8) ?? '—'}</code></td>
            </tr>
          ))}</tbody>
        </table>
      </div>
    </section>
  );
}
