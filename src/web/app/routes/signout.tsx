import { redirect, type ActionFunctionArgs } from 'react-router';
import { webContext } from '../lib/context.ts';

/** POST /signout: ends this browser's session (POST /api/v1/auth/logout) and clears its cookie. */
export async function action({ context }: ActionFunctionArgs) {
  const res = await context.get(webContext).call('POST', '/api/v1/auth/logout');
  return redirect('/', { status: 303, headers: res.setCookie.map((c) => ['set-cookie', c] as [string, string]) });
}

export function loader() {
  return redirect('/account');
}
