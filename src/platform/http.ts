import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, jsonSchemaTransform } from 'fastify-type-provider-zod';
import swagger from '@fastify/swagger';
import type { z } from 'zod';
import swaggerUi from '@fastify/swagger-ui';
import fastifyCompress from '@fastify/compress';
import { constants as zlib } from 'node:zlib';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { HttpProblem, problemBody as problem, problemJson, problemOf, sendProblem, UNAVAILABLE_RETRY_AFTER_S } from './problem.ts';
import { Metrics } from './metrics.ts';
import { rejectControlCharacters } from './input-guard.ts';
import { RouteIndex } from './route-index.ts';
import { corsConfigFor, isCrossOriginReadable, registerCors } from './cors.ts';
import { accessExtension, accessLine, needsCredentials, publicPluginRoutes, securityOf, trackRoutes, type Access } from '../auth/access.ts';
import { addDomainTag, API_TAGS } from './openapi-tags.ts';
import { readFileSync } from 'node:fs';
import { readinessRoute, type Readiness } from './readiness.ts';
import { extractContext, failSpan, SpanKind, startSpan, tracingEnabled, withContext } from './tracing.ts';
import { trace, type Span } from '@opentelemetry/api';

const SITE_ICON = new URL('../web/public/icon.svg', import.meta.url);

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's Prometheus registry, served at GET /metrics. */
    metrics: Metrics;
  }
}

/** Responses worth compressing (pages, assets, the JSON API; never an event stream): brotli at a fast level, else gzip. */
export const COMPRESSION = { global: true, threshold: 1024, encodings: ['br', 'gzip'] as Array<'br' | 'gzip'>, brotliOptions: { params: { [zlib.BROTLI_PARAM_QUALITY]: 5 } } };

/**
 * Fastify with zod validation, OpenAPI from the same schemas, problem+json for every error (one mapper,
 * `problemOf`, for route errors, framework errors, unknown routes and methods, and malformed requests that
 * never reach a route), control characters refused at the boundary, per-route CORS, compression and
 * Prometheus metrics.
 */
export interface HttpOptions {
  /**
   * Reverse proxies (IPs, CIDRs, proxy-addr names) whose X-Forwarded-For sets `req.ip`; empty: none, so
   * `req.ip` is the peer's address and a client cannot choose it by sending the header.
   */
  trustProxy?: readonly string[] | undefined;
  /**
   * Plugins that must see every route, the API docs' and the not-found handler's included (the rate limits):
   * registered before any of them. When one decorates `rateLimit`, unknown paths spend the budget too.
   */
  guards?: ((app: FastifyInstance) => Promise<void>) | undefined;
}

/** Whether a route's querystring schema (zod object or JSON schema) declares `format`. */
function declaresFormat(querystring: unknown): boolean {
  const q = querystring as { shape?: Record<string, unknown>; properties?: Record<string, unknown> } | undefined;
  return Boolean(q?.shape?.format ?? q?.properties?.format);
}

/**
 * `format` is the API's one way to ask for another representation (csv, xlsx). A route under /api/ that does
 * not declare it would strip it and answer JSON as if asked (issue: format=csv silently ignored on
 * /egrid/top-emitters); such a route refuses any `format` with 400 naming it. Routes that declare it
 * validate its value by their schema (400 naming `format` for a value they do not offer).
 */
function refuseUndeclaredFormat(route: RouteOptions): void {
  if (!route.url.startsWith('/api/') || declaresFormat(route.schema?.querystring)) return;
  const refuse = async (req: FastifyRequest) => {
    const query = req.query as Record<string, unknown> | undefined;
    if (query && Object.hasOwn(query, 'format')) {
      throw new HttpProblem(400, 'format: this endpoint answers JSON only and takes no format parameter', 'format');
    }
  };
  const existing = route.preValidation;
  route.preValidation = existing === undefined ? [refuse] : [...(Array.isArray(existing) ? existing : [existing]), refuse];
}

/**
 * A JSON request body (the parser of every application/json body). Like Fastify's own parser it refuses an empty
 * body and the keys of prototype pollution (`__proto__` anywhere; `constructor` holding a `prototype`), but says
 * which problem it is: 400 problem+json naming `body`, "the key __proto__ is not allowed", rather than "Body is
 * not valid JSON".
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new HttpProblem(400, 'body: empty, but the content type says JSON', 'body');
  let poisoned: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, function (this: unknown, key: string, v: unknown) {
      if (key === '__proto__') poisoned ??= '__proto__';
      else if (key === 'constructor' && v !== null && typeof v === 'object' && Object.prototype.hasOwnProperty.call(v, 'prototype')) poisoned ??= 'constructor.prototype';
      return v;
    });
  } catch (err) {
    throw new HttpProblem(400, `body: not valid JSON (${(err as Error).message})`, 'body');
  }
  if (poisoned) throw new HttpProblem(400, `body: the key ${poisoned} is not allowed in a JSON body (prototype pollution guard); rename or remove it`, 'body');
  return value;
}

/**
 * A route's OpenAPI schema with its access rule stated (the one place that does so): `security`, the problem+json
 * responses 401 and 403 when credentials are needed and 429 on every operation (responses the route declares
 * itself are kept), 400 on every operation that declares a path parameter, query or body, `x-gridpulse-access` ({public} or {roles, scopes, owner}) and a line "Access: …" in the description.
 */
function documentAccess(schema: NonNullable<RouteOptions['schema']>, access: Access | undefined, security: ReturnType<typeof securityOf>): NonNullable<RouteOptions['schema']> {
  const declared = (schema.response ?? {}) as Record<string, unknown>;
  const extra: Record<string, unknown> = { 429: problemJson.describe('Too Many Requests: a rate limit is spent (Retry-After says when to retry)') };
  // every operation with a declared input can refuse it (problemOf: the field at fault by its path)
  if (schema.querystring || schema.params || schema.body) extra[400] = problemJson.describe('Bad Request: a path parameter, query parameter or the body is not valid; `field` names it (e.g. `intervals/0/powerKw`)');
  if (needsCredentials(access)) {
    extra[401] = problemJson.describe('Unauthorized: no credentials, or expired/invalid ones (WWW-Authenticate: Bearer)');
    extra[403] = problemJson.describe('Forbidden: the credentials lack the role or scope this operation needs');
  }
  const response = { ...declared };
  for (const [code, s] of Object.entries(extra)) if (!(code in declared)) response[code] = { description: (s as z.ZodType).description, content: { 'application/problem+json': { schema: s } } };
  const line = accessLine(access);
  const description = schema.description ? `${schema.description}\n\n${line}` : line;
  return { ...schema, ...(security ? { security } : {}), response, description, 'x-gridpulse-access': accessExtension(access) } as NonNullable<RouteOptions['schema']>;
}

export async function createHttp(logger: Logger, options: HttpOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    trustProxy: options.trustProxy?.length ? [...options.trustProxy] : false,
    loggerInstance: logger as unknown as FastifyBaseLogger, genReqId: () => crypto.randomUUID(), requestIdHeader: 'x-request-id',
    frameworkErrors: (err, _req, reply) => { sendProblem(reply, problemOf(err)); },
    clientErrorHandler: problemOnSocket,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    // a DELETE carries no content (RFC 9110 9.3.5), yet clients send their usual content type with it: an empty body is no body
    if (req.method === 'DELETE' && (body as string).length === 0) { done(null, undefined); return; }
    try { done(null, parseJsonBody(body as string)); } catch (err) { done(err as Error, undefined); }
  });
  app.setErrorHandler((err, req, reply) => {
    const p = problemOf(err);
    if (p.status === 503 && p.retryAfterSeconds !== undefined) req.log.warn({ err: (err as Error).message, code: (err as { code?: unknown }).code }, 'database unavailable: answered 503');
    else if (p.status >= 500) req.log.error({ err }, 'request failed');
    return sendProblem(reply, p);
  });
  const routes = new RouteIndex();
  trackRoutes(app);
  app.addHook('onRoute', (route) => {
    // OpenAPI: each operation's security requirements follow its access declaration (src/auth/access.ts)
    // and, generated here for every operation from the same declaration: 401/403 where credentials are needed, 429
    // (every route is rate-limited), the rule machine-readable (`x-gridpulse-access`) and as a line of its description
    const security = securityOf(route.config?.access);
    if (route.schema && !route.schema.hide) route.schema = documentAccess(route.schema, route.config?.access, security);
    // OPTIONS is the CORS plugin's preflight catch-all, judged per target route by its delegator.
    if (route.method !== 'OPTIONS') route.config = { ...route.config, cors: corsConfigFor(route) };
    // the CORS plugin's preflight catch-all: preflights carry no credentials and are judged per target route
    else if (!route.config?.access) route.config = { ...route.config, access: { public: true } };
    routes.add(route, { crossOrigin: isCrossOriginReadable(route), notFoundUnder: route.config?.notFoundUnder ?? [] });
    refuseUndeclaredFormat(route);
  });
  app.decorate('metrics', new Metrics());
  traceRequests(app);
  await options.guards?.(app);
  app.setNotFoundHandler(app.hasDecorator('rateLimit') ? { preHandler: app.rateLimit() } : {}, (req, reply) => notFoundOrNotAllowed(routes, req, reply));
  rejectControlCharacters(app);
  await registerCors(app, routes);
  await app.register(fastifyCompress, COMPRESSION);
  httpMetrics(app, app.metrics);
  await app.register(swagger, {
    openapi: {
      info: { title: 'GridPulse API', version: '1', description: 'Open data on the US grid: EIA-930 observations, carbon intensity and daily analytics. Public reads need no key; '
        + 'accounts sign in at /api/v1/auth/login (access token, 1 h) and the data API needs a worker key. Each operation lists what it accepts under `security`.\n\n[← Back to the GridPulse site](/) · [Methodology](/methodology)' },
      tags: API_TAGS.map(({ name, description }) => ({ name, description })),
      components: {
        securitySchemes: {
          accessToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /api/v1/auth/login or /refresh (1 hour; EdDSA, keys at /.well-known/jwks.json)' },
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key gp_…: worker (`gridpulse keys create --kind worker`), device, or personal (/api/v1/me/keys); the scopes listed are required' },
          sessionCookie: { type: 'apiKey', in: 'cookie', name: 'gp_session', description: 'The web site\'s session (state-changing calls also need the X-CSRF-Token header)' },
          oAuth2ClientCredentials: {
            type: 'oauth2', description: 'OpenADR 3.0.1 clients (VENs, utilities): a token from POST /openadr/3.0.1/auth/token (client credentials; clients registered by `gridpulse openadr clients create`)',
            flows: { clientCredentials: { tokenUrl: '/openadr/3.0.1/auth/token', scopes: {
              read_all: 'VENs and BL can read all resources', write_programs: 'Only BL can write to programs', write_events: 'Only BL can write to events',
              write_reports: 'only VENs can write to reports', write_subscriptions: 'VENs and BL can write to subscriptions', write_vens: 'VENS and BL can write to vens and resources',
            } } },
          },
        },
      },
    },
    transform: (route) => withUnavailable(addDomainTag(jsonSchemaTransform(route))),
  });
  await app.register(async (scope) => {
    publicPluginRoutes(scope);
    // The site's mark in the reference's top bar; the way back to the site is the first link of the description.
    await scope.register(swaggerUi, { routePrefix: '/docs', logo: { type: 'image/svg+xml', content: readFileSync(SITE_ICON) } });
  });
  app.get('/api/v1/openapi.json', { schema: { hide: true }, config: { access: { public: true } } }, async () => app.swagger());
  return app;
}

/**
 * OpenAPI: every documented operation may answer 503 while the database cannot be reached (problem.ts problemOf), with
 * Retry-After in seconds; added to each operation's responses here rather than to every route's schema.
 */
function withUnavailable<T extends { schema: unknown }>(out: T): T {
  const schema = (out.schema ?? {}) as { response?: Record<string, unknown>; hide?: boolean };
  if (schema.hide || !schema.response || '503' in schema.response) return out;
  const unavailable = {
    description: 'the database cannot be reached at the moment (application/problem+json); retry after Retry-After seconds',
    headers: { 'Retry-After': { type: 'integer', minimum: 1, description: `seconds to wait before retrying (${UNAVAILABLE_RETRY_AFTER_S})` } },
    type: 'object', required: ['type', 'title', 'status', 'detail'],
    properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer', enum: [503] }, detail: { type: 'string' } },
  };
  return { ...out, schema: { ...schema, response: { ...schema.response, 503: unavailable } } };
}

/** 404 when nothing lives at the path; 405 with `Allow` when something does, under other methods (RFC 9110 15.5.6). */
function notFoundOrNotAllowed(routes: RouteIndex, req: FastifyRequest, reply: FastifyReply) {
  const allowed = routes.allowed(req.url);
  if (allowed.length && !allowed.includes(req.method)) {
    return sendProblem(reply.header('allow', allowed.join(', ')), { status: 405, detail: `${req.method} is not allowed here; use ${allowed.join(', ')}`, field: 'method' });
  }
  return sendProblem(reply, { status: 404, detail: `no route ${req.method} ${req.url.split('?')[0]}` });
}

/**
 * Requests Node's parser refuses before Fastify sees them (a request line and headers over 16 KB, a
 * malformed request, a client too slow to send its headers): the same problem+json as every other error,
 * written straight to the socket, which is then closed.
 */
function problemOnSocket(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail, field] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'the URL and headers together exceed the 16 KB limit', undefined]
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'the request was not received in time', undefined]
      : [400, 'malformed HTTP request', undefined];
  const body = JSON.stringify(problem(status, detail, field));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${problem(status, '').title}\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

const requestSpans = new WeakMap<FastifyRequest, Span>();

/**
 * One SERVER span per request (`GET /api/v1/series/:id`), continuing the caller's `traceparent`, active while the
 * hooks and the handler run (so database, Redis and EIA spans are its children and log lines carry its ids);
 * ended on response with the status code (ERROR from 500). Nothing is registered when tracing is off.
 */
export function traceRequests(app: FastifyInstance): void {
  if (!tracingEnabled()) return;
  app.addHook('onRequest', (req, _reply, done) => {
    const parent = extractContext(req.headers as Record<string, string | string[] | undefined>);
    const route = req.is404 ? 'unmatched' : req.routeOptions.url ?? 'unmatched';
    const span = startSpan(`${req.method} ${route}`, { 'http.request.method': req.method, 'http.route': route, 'url.path': req.url.split('?')[0]!, 'gridpulse.request_id': req.id }, SpanKind.SERVER, parent);
    if (!span) return done();
    requestSpans.set(req, span);
    withContext(trace.setSpan(parent, span), done);
  });
  app.addHook('onError', (req, _reply, err, done) => {
    const span = requestSpans.get(req);
    if (span) failSpan(span, err);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const span = requestSpans.get(req);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: 2 });
      span.end();
      requestSpans.delete(req);
    }
    done();
  });
}

/**
 * Request durations by method, route pattern (routeOptions.url, never the raw URL, so the label
 * set stays bounded; 'unmatched' for 404s without a route) and status code, and GET /metrics.
 * The metrics are for operators: `app.metrics.protect(token)` requires a bearer token (METRICS_TOKEN).
 */
export function httpMetrics(app: FastifyInstance, metrics: Metrics): void {
  if (!app.hasDecorator('metrics')) app.decorate('metrics', metrics);
  const duration = metrics.histogram('gridpulse_http_request_duration_seconds', 'HTTP request duration by method, route pattern and status code', ['method', 'route', 'status_code']);
  // a callback hook and one observe (about 0.4 µs): caching labelled children measured no faster
  app.addHook('onResponse', (req, reply, done) => {
    duration.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status_code: reply.statusCode }, reply.elapsedTime / 1000);
    done();
  });
  // public to the access hook: the metrics carry their own bearer token (METRICS_TOKEN)
  app.get('/metrics', { schema: { hide: true }, config: { access: { public: true } } }, async (req, reply) => {
    if (!metrics.authorized(req.headers.authorization)) {
      return reply.code(401).header('WWW-Authenticate', 'Bearer realm="gridpulse-metrics"').type('application/problem+json')
        .send(problem(401, 'metrics need Authorization: Bearer <METRICS_TOKEN>', 'authorization'));
    }
    return reply.type(metrics.contentType).send(await metrics.render());
  });
}

/**
 * A server with only GET /metrics (and, given readiness checks, GET /healthz and /readyz), for a process without
 * the API (`gridpulse worker` with METRICS_PORT): the same exposition and bearer-token rule as the API server's.
 */
export async function metricsServer(metrics: Metrics, token?: string, readiness?: Readiness): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  httpMetrics(app, metrics);
  if (readiness) {
    app.get('/healthz', async () => ({ status: 'ok' }));
    readinessRoute(app, readiness);
  }
  metrics.protect(token);
  await app.ready();
  return app;
}
