import { Form, redirect, useActionData, useSearchParams, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from 'react-router';
import { webContext } from '../lib/context.ts';
import { CsrfField } from '../components/csrf-field.tsx';
import { field, safeNext } from '../lib/account-api.ts';

/** Personal pages are never stored by browsers or shared caches. */
export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'Sign in · GridPulse' }];

export function loader({ context, request }: LoaderFunctionArgs) {
  if (context.get(webContext).viewer) throw redirect(safeNext(new URL(request.url).searchParams.get('next')));
  return null;
}

/** POST /signin: signs the browser in through POST /api/v1/auth/session and goes on (303) with its cookie. */
export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  const res = await context.get(webContext).call('POST', '/api/v1/auth/session', { email: field(form, 'email'), password: field(form, 'password') });
  if (!res.ok) return { error: res.detail, email: field(form, 'email') };
  return redirect(safeNext(form.get('next')), { status: 303, headers: res.setCookie.map((c) => ['set-cookie', c] as [string, string]) });
}

export default function SignIn() {
  const result = useActionData<typeof action>();
  const [params] = useSearchParams();
  return (
    <section className="narrow">
      <h1>Sign in</h1>
      <p>Looking needs no account. Sign in to save views, set alerts, or manage GridPulse.</p>
      {result?.error ? <p className="notice" role="alert">{result.error}</p> : null}
      <Form method="post" className="stack-form">
        <CsrfField />
        <input type="hidden" name="next" value={params.get('next') ?? '/account'} />
        <label>E-mail <input type="email" name="email" autoComplete="username" required defaultValue={result?.email ?? ''} /></label>
        <label>Password <input type="password" name="password" autoComplete="current-password" required /></label>
        <button type="submit">Sign in</button>
      </Form>
      <p className="muted">No account? An administrator sends you an invitation link.</p>
    </section>
  );
}
