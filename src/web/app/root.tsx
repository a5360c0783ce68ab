import { useEffect, useRef, type ReactNode } from 'react';
import { Form, isRouteErrorResponse, Links, Meta, NavLink, Outlet, Scripts, ScrollRestoration, useLocation, useRouteError, useRouteLoaderData, type HeadersFunction, type LoaderFunctionArgs } from 'react-router';
import stylesUrl from './styles.css?url';
import { DEFAULT_PREFS, parsePrefs, type Prefs } from './lib/prefs.ts';
import { browserZone, useRecordViewerZone } from './lib/use-zone.ts';
import { webContext } from './lib/context.ts';
import type { Ba } from './lib/api-types.ts';
import { adoptZoneRules, packZoneRules, zoneRulesFor } from './lib/zone-rules.ts';
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
  const prefs = parsePrefs(request.headers.get('cookie'));
  // Every zone a page may print times in: the BAs' reporting zones and the visitor's own (zone-rules.ts says why).
  const [bas, fill] = await Promise.all([web.reference<{ data: Ba[] }>('/api/v1/bas'), web.api<PipelineState>('/api/v1/pipeline/state')]);
  const zones = [...(bas.ok ? bas.data.data.map((b) => b.timeZone) : []), ...(prefs.zone ? [prefs.zone] : [])];
  return {
    prefs, csrf: web.csrfToken, zoneRules: packZoneRules(zoneRulesFor(zones, web.now().getTime())),
    // Where this site is reached, for the snippets other sites paste: the configured address, else this request's.
    origin: web.publicUrl ?? new URL(request.url).origin,
    fill: fill.ok ? fill.data.data : null,
    viewer: web.viewer,
  };
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
  const root = useRouteLoaderData<typeof loader>('root');
  const prefs = root?.prefs ?? DEFAULT_PREFS;
  const fill = root?.fill;
  // Before any page below formats a time: the server's zone rules, so the browser prints the same clock text.
  adoptZoneRules(root?.zoneRules);
  const viewer = root?.viewer ?? null;
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
                {viewer?.role === 'admin' || viewer?.role === 'operator' ? <><NavLink to="/fleet">Fleet</NavLink><NavLink to="/markets">Markets</NavLink><NavLink to="/openadr">OpenADR</NavLink></> : null}
                {viewer?.role === 'admin' ? <NavLink to="/admin">Admin</NavLink> : null}
                {viewer ? <NavLink to="/account">Account</NavLink> : <NavLink to="/signin">Sign in</NavLink>}
              </nav>
              <Settings prefs={prefs} />
            </header>
            <main id="main"><FillNotice fill={fill} />{children}</main>
            <footer className="site">
              Data: U.S. EIA Form EIA-930 hourly grid monitor (or a clearly marked simulation). <a href="/methodology">How the numbers are made</a>.
            </footer>
          </>
        )}
        {/* Not in embeds: its inline script reads sessionStorage, which a browser blocking third-party storage refuses inside a foreign page's iframe. */}
        {embed ? null : <ScrollRestoration />}
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  useRecordViewerZone();
  return <Outlet />;
}

/** An error page (rendered here, the boundary) keeps the headers of the response thrown for it: a 403 page's no-store (lib/require-viewer.ts). */
export const headers: HeadersFunction = ({ errorHeaders }) => errorHeaders ?? new Headers();

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
