import { useRouteLoaderData } from 'react-router';
import type { loader as rootLoader } from '../root.tsx';

/** The hidden anti-forgery field every form that posts must carry (its pair is the visitor's cookie; src/web/csrf.ts). */
export function CsrfField() {
  const csrf = useRouteLoaderData<typeof rootLoader>('root')?.csrf ?? '';
  return <input type="hidden" name="csrf" value={csrf} />;
}
