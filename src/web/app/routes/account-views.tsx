import type { LoaderFunctionArgs, MetaFunction } from 'react-router';
import { SavedViewsSection } from '../components/saved-views-section.tsx';
import { webContext } from '../lib/context.ts';
import { requireViewer, type PageAccess } from '../lib/require-viewer.ts';

/** Personal pages are never stored by browsers or shared caches. */
export const headers = () => ({ 'Cache-Control': 'no-store' });

export const meta: MetaFunction = () => [{ title: 'Your saved views · GridPulse' }, { name: 'robots', content: 'noindex' }];

export const access: PageAccess = 'signed-in';

/** Signed out: to /signin?next=… before anything renders (the section's own API calls would only answer 401). */
export function loader({ context, request }: LoaderFunctionArgs) {
  requireViewer(context.get(webContext), request, access);
  return null;
}

export default function AccountViews() {
  return <><h1>Your saved views</h1><SavedViewsSection /></>;
}
