import { redirect, type LoaderFunctionArgs } from 'react-router';
import { BA_CODE } from '../lib/loaders.ts';
import { queryDate } from '../lib/page-query.ts';

/** /ba?code=CISO[&date=…] → /ba/CISO (the BA picker without JavaScript). */
export function loader({ request }: LoaderFunctionArgs) {
  const q = new URL(request.url).searchParams;
  const code = q.get('code') ?? '';
  const date = queryDate(q);
  if (!BA_CODE.test(code)) return redirect('/');
  return redirect(`/ba/${code.toUpperCase()}${date ? `?date=${date}` : ''}`);
}
