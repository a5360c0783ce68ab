import { useEffect, useRef, type ReactNode } from 'react';
import { Form, isRouteErrorResponse, Links, Meta, NavLink, Outlet, Scripts, ScrollRestoration, useLocation, useRouteError, useRouteLoaderData, type LoaderFunctionArgs } from 'react-router';
import stylesUrl from './styles.css?url';
import { DEFAULT_PREFS, parsePrefs, type Prefs } from './lib/prefs.ts';
import { browserZone, useRecordViewerZone } from './lib/use-zone.ts';
import { webContext } from './lib/context.ts';
import { CsrfField } from './components/csrf-field.tsx';
import type { PipelineState } from './lib/api-types.ts';

export const links = () => [
  { rel: 'stylesheet', href: stylesUrl },
  { rel: 'manifest', href: '/manifest.webmanifest' },
  { rel: 'icon', href: '/icon.svg', type: 'image/svg+xml' },
  { rel: 'apple-touch-icon', href: '/icon-192.png' },
];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  const fill = await web.api<PipelineState>('/api/v1/pipeline/state');
  return { prefs: parsePrefs(request.headers.get('cookie')), csrf: web.csrfToken, fill: fill.ok ? fill.data.data : null };
}

/** "2026-11-12T14:00:00.000Z" → "2026-11-12 14:00 UTC": the same text on the server and in the browser (no zone data involved). */
const utcHour = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

/**
 * The store's state on every page (GET /api/v1/pipeline/state): while the first fill runs, pages answer with what
 * has arrived and say so, instead of looking broken.
 */
export function FillNotice({ fill }: { fill: PipelineState['data'] | null | undefined }) {
  if (!fill || fill.state === 'ready') return null;
  if (fill.state === 'empty') {
    return <p className="notice fill-notice" role="status">No data yet: the first fill has not started. Pages fill in as data arrives.</p>;
  }
  const through = fill.dataThrough ? `data through ${utcHour(fill.dataThrough)}` : 'no hours stored yet';
  const progress = fill.progress === null ? '' : `, ${Math.floor(fill.progress * 100)} % done`;
  return (
    <p className="notice fill-notice" role="status">
      <strong>Filling…</strong> GridPulse is loading its history ({through}{progress}). Pages show what has arrived and fill in as it lands;
      figures that need more hours say so.
    </p>
  );
}

function Settings({ prefs }: { prefs: Prefs }) {
  const location = useLocation();
  // The viewer's zone travels with the form: the stored one as rendered (none: UTC), the browser's once script runs.
  const zoneField = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const mine = browserZone();
    if (mine && zoneField.current) zoneField.current.value = mine;
  }, [prefs.zone]);
  return (
    <details className="settings">
      <summary>Settings</summary>
      <Form method="post" action="/prefs" className="settings-form">
        <CsrfField />
        <input type="hidden" name="redirectTo" value={location.pathname + location.search} />
        <input type="hidden" name="zone" ref={zoneField} defaultValue={prefs.zone ?? ''} />
        <label>Times shown in
          <select name="time" defaultValue={prefs.time}>
            <option value="ba">the BA&apos;s local time</option>
            <option value="viewer">{`my local time (${prefs.zone ?? 'not known yet: UTC'})`}</option>
            <option value="utc">UTC</option>
          </select>
        </label>
        <label>Theme
          <select name="theme" defaultValue={prefs.theme}>
            <option value="system">system</option>
            <option value="light">light</option>
            <option value="dark">dark</option>
          </select>
        </label>
        <button type="submit">Save</button>
      </Form>
    </details>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const rootData = useRouteLoaderData<typeof loader>('root');
  const prefs = rootData?.prefs ?? DEFAULT_PREFS;
  const fill = rootData?.fill;
  const embed = useLocation().pathname.startsWith('/embed/');
  return (
    <html lang="en" data-theme={prefs.theme}>
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="theme-color" content="#1b4332" />
        <Meta />
        <Links />
      </head>
      <body className={embed ? 'embed' : undefined}>
        {embed ? children : (
          <>
            <a className="skip" href="#main">Skip to content</a>
            <header className="site">
              <NavLink to="/" className="brand">GridPulse</NavLink>
              <nav aria-label="Main">
                <NavLink to="/" end>Grid now</NavLink>
                {prefs.ba ? <NavLink to={`/ba/${prefs.ba}`}>{prefs.ba}</NavLink> : null}
                <NavLink to="/compare">Compare</NavLink>
                <NavLink to="/egrid">Plants</NavLink>
                <NavLink to="/pipeline">Pipeline</NavLink>
                <NavLink to="/methodology">Methodology</NavLink>
                <a href="/docs">API</a>
              </nav>
              <Settings prefs={prefs} />
            </header>
            <main id="main"><FillNotice fill={fill} />{children}</main>
            <footer className="site">
              Data: U.S. EIA Form EIA-930 hourly grid monitor (or a clearly marked simulation). <a href="/methodology">How the numbers are made</a>.
            </footer>
          </>
        )}
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  useRecordViewerZone();
  return <Outlet />;
}

export function ErrorBoundary() {
  const error = useRouteError();
  const title = isRouteErrorResponse(error) ? `${error.status} ${error.statusText || ''}`.trim() : 'Something went wrong';
  const detail = isRouteErrorResponse(error) ? String(error.data ?? '') : 'The page failed to render. The API at /docs may still answer.';
  return (
    <section className="error">
      <h1>{title}</h1>
      <p>{detail}</p>
      <p><a href="/">Back to the grid overview</a></p>
    </section>
  );
}
