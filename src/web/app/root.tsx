import { useEffect, useRef, type ReactNode } from 'react';
import { Form, isRouteErrorResponse, Links, Meta, NavLink, Outlet, Scripts, ScrollRestoration, useLocation, useRouteError, useRouteLoaderData, type LoaderFunctionArgs } from 'react-router';
import stylesUrl from './styles.css?url';
import { DEFAULT_PREFS, parsePrefs, type Prefs } from './lib/prefs.ts';
import { browserZone, useRecordViewerZone } from './lib/use-zone.ts';
import { webContext } from './lib/context.ts';
import { CsrfField } from './components/csrf-field.tsx';

export const links = () => [
  { rel: 'stylesheet', href: stylesUrl },
  { rel: 'manifest', href: '/manifest.webmanifest' },
  { rel: 'icon', href: '/icon.svg', type: 'image/svg+xml' },
  { rel: 'apple-touch-icon', href: '/icon-192.png' },
];

export function loader({ request, context }: LoaderFunctionArgs) {
  const web = context.get(webContext);
  return { prefs: parsePrefs(request.headers.get('cookie')), csrf: web.csrfToken, viewer: web.viewer };
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
  const viewer = rootData?.viewer ?? null;
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
                <NavLink to="/pipeline">Pipeline</NavLink>
                <NavLink to="/methodology">Methodology</NavLink>
                <a href="/docs">API</a>
                {viewer?.role === 'admin' ? <NavLink to="/admin">Admin</NavLink> : null}
                {viewer ? <NavLink to="/account">Account</NavLink> : <NavLink to="/signin">Sign in</NavLink>}
              </nav>
              <Settings prefs={prefs} />
            </header>
            <main id="main">{children}</main>
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
