import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { createRequestHandler, RouterContextProvider, type RouterContext, type ServerBuild } from 'react-router';
import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { Cache } from '../platform/cache.ts';
import type { ApiResult, WebContext } from './app/lib/context.ts';
import { createLiveHub } from './live-hub.ts';
import { liveRoutes } from './live-routes.ts';
import { fleetLiveRoutes } from './fleet-live-routes.ts';
import { badgeRoutes } from './badge-routes.ts';
import { publicPluginRoutes } from '../auth/access.ts';
import { checkFormPost, csrfCookie, csrfNonceOf, csrfTokenFor, newCsrfToken } from './csrf.ts';
import { internalCallHeaders } from '../auth/rate-limits.ts';
import { pageProblemDetail } from './app/lib/page-problem.ts';
import { pageCache } from './page-cache.ts';
import { memoFillState } from '../ingest/fill-state.ts';

export interface WebDeps {
  db: Db; logger: Logger; cache: Cache; now?: () => Date;
  /** The site's public address (config PUBLIC_URL, e.g. https://grid.example.org); else each request's own origin. */
  publicUrl?: string | undefined;
  /** Serve anonymous visitors' pages from the page cache (page-cache.ts); default true. */
  pageCache?: boolean;
}

const BUILD_DIR = fileURLToPath(new URL('../../build/web/', import.meta.url));

/** Pages under /embed/ and badges may be framed by any site; everything else only by ourselves. */
export function framingHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply) => {
    const embeddable = req.url.startsWith('/embed/') || req.url.startsWith('/badge/');
    reply.header('content-security-policy', embeddable ? 'frame-ancestors *' : "frame-ancestors 'self'");
    if (!embeddable) reply.header('x-frame-options', 'SAMEORIGIN');
    reply.header('x-content-type-options', 'nosniff');
  });
}

/**
 * In-process API calls for loaders: the same routes, validation and caching as external clients get, but not
 * the rate limits (the page request spent the visitor's budget).
 */
export function injectApi(app: FastifyInstance): WebContext['api'] {
  return async <T,>(path: string): Promise<ApiResult<T>> => {
    const res = await app.inject({ method: 'GET', url: path, headers: { accept: 'application/json', ...internalCallHeaders() } });
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode, data: res.json<T>() };
    let detail = `HTTP ${res.statusCode}`;
    try { detail = (res.json<{ detail?: string }>()).detail ?? detail; } catch { /* not JSON */ }
    return { ok: false, status: res.statusCode, missing: res.statusCode === 404 && detail.startsWith('no route'), detail };
  };
}

/**
 * API calls as the visitor (WebContext.call): their cookies (session and anti-forgery), the anti-forgery
 * token as X-CSRF-Token (the page's form post has already been checked against it), their address and user
 * agent. Set-Cookie answers come back for the page; over HTTPS they are marked Secure.
 */
export function visitorApi(app: FastifyInstance, req: FastifyRequest, csrfToken: string): WebContext['call'] {
  return async <T,>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) => {
    const headers: Record<string, string> = { accept: 'application/json', 'x-csrf-token': csrfToken, cookie: req.headers.cookie ?? '' };
    if (req.headers['user-agent']) headers['user-agent'] = req.headers['user-agent'];
    if (req.headers.host) headers.host = req.headers.host;
    const res = await app.inject({ method, url: path, headers, remoteAddress: req.ip, ...(body === undefined ? {} : { payload: body as object }) });
    const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
      .map((c) => (req.protocol === 'https' && !/;\s*Secure/i.test(c) ? `${c}; Secure` : c));
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode, data: (res.body ? res.json<T>() : undefined) as T, setCookie };
    let detail = `HTTP ${res.statusCode}`;
    let field: string | undefined;
    try { ({ detail = detail, field } = res.json<{ detail?: string; field?: string }>()); } catch { /* not JSON */ }
    return { ok: false, status: res.statusCode, missing: false, detail: pageProblemDetail(res.statusCode, detail, field), setCookie };
  };
}

const REFERENCE_TTL_SECONDS = 300;

/**
 * Reference answers (the BA list…) kept a few minutes; a failing cache (Redis down) is skipped, never the page's error,
 * and not logged per request (the cache tells an outage once: cache.ts).
 */
function cachedReference(api: WebContext['api'], cache: Cache): WebContext['reference'] {
  return async <T,>(path: string): Promise<ApiResult<T>> => {
    const key = `web:ref:${path}`;
    const hit = await cache.get<ApiResult<T>>(key).catch(() => undefined);
    if (hit) return hit;
    const answer = await api<T>(path);
    if (answer.ok) await cache.set(key, answer, REFERENCE_TTL_SECONDS).catch(() => undefined);
    return answer;
  };
}

function toWebRequest(req: FastifyRequest, signal: AbortSignal): Request {
  const url = new URL(req.url, `http://${req.headers.host ?? 'localhost'}`);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) for (const one of v) headers.append(k, one);
    else if (v !== undefined) headers.set(k, String(v));
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && Buffer.isBuffer(req.body);
  // HEAD is answered as GET (same status and headers); Fastify's HEAD route then drops the body.
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  return new Request(url, { method, headers, signal, ...(hasBody ? { body: new Uint8Array(req.body as Buffer) } : {}) });
}

async function sendWebResponse(reply: FastifyReply, res: Response): Promise<void> {
  reply.status(res.status);
  res.headers.forEach((value, key) => { if (key !== 'set-cookie') reply.header(key, value); });
  const cookies = res.headers.getSetCookie();
  if (cookies.length) reply.header('set-cookie', cookies);
  await reply.send(res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream) : null);
}

async function loadServerBuild(logger: Logger): Promise<ServerBuild | undefined> {
  const entry = `${BUILD_DIR}server/index.js`;
  if (!existsSync(entry)) {
    logger.warn({ entry }, 'web: no production build; pages answer 503 until `npm run build` has run');
    return undefined;
  }
  return (await import(pathToFileURL(entry).href)) as ServerBuild;
}

/**
 * The public site: React Router's production build server-rendered by this Fastify instance, its static
 * assets, the live-update stream, badges and framing headers. /api/v1 and /docs stay Fastify's.
 */
export async function webRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const hub = createLiveHub(deps.db, deps.logger);
  framingHeaders(app);
  liveRoutes(app, deps.db, hub);
  fleetLiveRoutes(app, deps.db, deps.logger);
  const api = injectApi(app);
  const reference = cachedReference(api, deps.cache);
  badgeRoutes(app, reference, api);
  const build = await loadServerBuild(deps.logger);
  const shared = { api, reference, now, publicUrl: deps.publicUrl?.replace(/\/+$/, '') };
  const webContextKey = (build?.entry.module as { webContext?: RouterContext<WebContext> } | undefined)?.webContext;
  const handle = build ? createRequestHandler(build, 'production') : undefined;
  const fill = memoFillState(deps.db);
  const pages = pageCache(deps.cache, { now: () => now().getTime(),
    alsoDependsOn: async () => { const f = await fill(now()); return [f.state, f.dataThrough, f.progress]; } });
  await app.register(async (scope) => {
    if (build) {
      publicPluginRoutes(scope); // the build's static files
      await scope.register(fastifyStatic, {
        root: `${BUILD_DIR}client`, wildcard: false, index: false,
        setHeaders: (res, file) => {
          res.header('cache-control', file.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=3600');
        },
      });
    }
    // Form posts reach React Router's actions as the raw body; forms post URL-encoded fields and nothing else (415).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
    const render = async (req: FastifyRequest, reply: FastifyReply) => {
      if (!handle || !webContextKey) {
        return reply.code(503).type('text/html; charset=utf-8')
          .send('<!doctype html><title>GridPulse</title><p>The web UI is not built yet: run <code>npm run build</code>. The API is at <a href="/docs">/docs</a>.</p>');
      }
      // the visitor's anti-forgery token (csrf.ts): their session's when signed in by cookie, else their anonymous cookie's
      const secure = req.protocol === 'https';
      let nonce = csrfNonceOf(req.headers.cookie, secure);
      if (!nonce) {
        nonce = newCsrfToken();
        reply.header('set-cookie', csrfCookie(nonce, secure));
      }
      const csrfToken = csrfTokenFor(req) ?? nonce;
      const p = req.principal;
      const viewer = p?.kind === 'user' && p.sessionId ? { userId: p.userId!, role: p.role as NonNullable<WebContext['viewer']>['role'] } : null;
      const context = (token: string) => {
        const load = new RouterContextProvider();
        load.set(webContextKey, { ...shared, csrfToken: token, viewer, call: visitorApi(app, req, token), log: req.log } satisfies WebContext);
        return load;
      };
      if (deps.pageCache !== false && pages.eligible(req)) {
        // anonymous GET: served from the page cache (page-cache.ts), rendered whole with the placeholder token on a miss;
        // a render shared by concurrent visitors is not aborted when one of them goes away
        const { page, hit } = await pages.serve(req, csrfToken, async () => {
          const res = await handle(toWebRequest(req, new AbortController().signal), context(pages.placeholder));
          const headers: [string, string][] = [];
          res.headers.forEach((value, key) => { if (key !== 'set-cookie') headers.push([key, value]); });
          const cookies = res.headers.getSetCookie();
          for (const c of cookies) headers.push(['set-cookie', c]);
          return { status: res.status, headers, body: res.body ? await res.text() : '', setsCookie: cookies.length > 0 };
        });
        reply.status(page.status);
        const cookies: string[] = [];
        for (const [k, v] of page.headers) if (k === 'set-cookie') cookies.push(v.split(pages.placeholder).join(csrfToken)); else reply.header(k, v);
        if (cookies.length) reply.header('set-cookie', [...([] as string[]).concat((reply.getHeader('set-cookie') as string[] | string | undefined) ?? []), ...cookies]);
        reply.header('x-page-cache', hit ? 'hit' : 'miss');
        return reply.send(page.body);
      }
      const abort = new AbortController();
      reply.raw.on('close', () => { if (!reply.raw.writableFinished) abort.abort(); });
      await sendWebResponse(reply, await handle(toWebRequest(req, abort.signal), context(csrfToken)));
      return reply;
    };
    // Pages: every path but the API's, the OpenADR VTN's and the docs', which this route hands back to the not-found handler (404/405).
    const notFoundUnder = ['/api/', '/docs', '/openadr/'];
    scope.get('/*', { schema: { hide: true }, config: { notFoundUnder, access: { public: true } } }, async (req, reply) => {
      if (notFoundUnder.some((prefix) => req.url.startsWith(prefix))) return reply.callNotFound();
      return render(req, reply);
    });
    // Form posts go only to the pages that have an action (and their `.data` twins, used when JavaScript runs),
    // and only from this site's own forms.
    for (const path of build ? actionPaths(build) : []) {
      scope.post(path, {
        schema: { hide: true },
        config: { access: { public: true } }, // pages decide (a signed-in page's action checks req.principal); CSRF below
        preHandler: async (req) => { checkFormPost(req, new URLSearchParams((req.body as Buffer | undefined)?.toString('utf8') ?? '')); },
      }, render);
    }
  });
}

/** URL patterns (Fastify syntax, which React Router's `:param` shares) of the routes with an action, each with its `.data` twin. */
export function actionPaths(build: ServerBuild): string[] {
  const full = (id: string | undefined): string => {
    const route = id ? build.routes[id] : undefined;
    if (!route) return '';
    const parent = full(route.parentId);
    return route.path ? `${parent}/${route.path}`.replace(/\/+/g, '/') : parent;
  };
  const paths = Object.values(build.routes).filter((r) => r?.module.action && !r.path?.includes('?') && !r.path?.includes('*'))
    .map((r) => full(r!.id) || '/');
  return paths.flatMap((p) => [p, p === '/' ? '/_.data' : `${p}.data`]);
}
