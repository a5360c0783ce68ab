import { Form, redirect, useActionData, useParams, type ActionFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { CsrfField } from '../components/csrf-field.tsx';
import { field } from '../lib/account-api.ts';

/** Personal pages are never stored by browsers or shared caches. */
export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'Set your password · GridPulse' }];

/** POST /invite/:token: uses the single-use link (creates the account or sets its password), then signs in. */
export async function action({ request, context, params }: ActionFunctionArgs) {
  const form = await request.formData();
  const web = context.get(webContext);
  const password = field(form, 'password');
  if (password !== field(form, 'confirm')) return { error: 'The two passwords differ.' };
  const made = await web.call<{ email: string }>('POST', '/api/v1/auth/invitations/accept', { token: params.token ?? '', password, displayName: field(form, 'displayName') || undefined });
  if (!made.ok) return { error: made.detail };
  const session = await web.call('POST', '/api/v1/auth/session', { email: made.data.email, password });
  if (!session.ok) return redirect('/signin', 303);
  return redirect('/account', { status: 303, headers: session.setCookie.map((c) => ['set-cookie', c] as [string, string]) });
}

export default function Invite() {
  const result = useActionData<typeof action>();
  useParams();
  return (
    <section className="narrow">
      <h1>Set your password</h1>
      <p>This link works once. Choose a password of at least 12 characters that you do not use elsewhere; common passwords are refused.</p>
      {result?.error ? <p className="notice" role="alert">{result.error}</p> : null}
      <Form method="post" className="stack-form">
        <CsrfField />
        <label>Display name (optional) <input name="displayName" maxLength={100} autoComplete="name" /></label>
        <label>Password <input type="password" name="password" autoComplete="new-password" minLength={12} required /></label>
        <label>Password again <input type="password" name="confirm" autoComplete="new-password" minLength={12} required /></label>
        <button type="submit">Set password and sign in</button>
      </Form>
    </section>
  );
}
