import { redirect, type ActionFunctionArgs } from 'react-router';
import { mergePrefs, parsePrefs, safeRedirect, serializePrefs } from '../lib/prefs.ts';

/** POST /prefs: merges the posted preferences into the cookie and goes back (works without JavaScript). */
export async function action({ request }: ActionFunctionArgs) {
  const form = await request.formData();
  const prefs = mergePrefs(parsePrefs(request.headers.get('cookie')), form);
  return redirect(safeRedirect(form.get('redirectTo')), { status: 303, headers: { 'set-cookie': serializePrefs(prefs) } });
}

export function loader() {
  return redirect('/');
}
