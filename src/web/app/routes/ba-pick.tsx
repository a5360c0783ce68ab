import { redirect, type LoaderFunctionArgs } from 'react-router';
import { BA_CODE } from '../lib/loaders.ts';
import { isIsoDate } from '../lib/time.ts';

/** /ba?code=CISO[&date=…] → /ba/CISO (the BA picker without JavaScript). */
export function loader({ request }: LoaderFunctionArgs) {
  const q = new URL(request.url).searchParams;
  const code = q.get('code') ?? '';
  const date = q.get('date');
  if (!BA_CODE.test(code)) return redirect('/');
  return redirect(`/ba/${code.toUpperCase()}${isIsoDate(date) ? `?date=${date}` : ''}`);
}
