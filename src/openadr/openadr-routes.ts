import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { problemOf, sendProblem } from '../platform/problem.ts';
import type { Access } from '../auth/access.ts';
import type { AuthDeps } from '../auth/sessions.ts';
import { issueClientToken, OAuthError } from '../auth/client-credentials.ts';
import { clearFailures, recordFailure, throttleWait } from '../auth/throttle.ts';
import { checkWebhookUrl, type TargetPolicy } from '../alerts/webhook-target.ts';
import {
  authError, clientCredentialRequest, clientCredentialResponse, event, objectID, OPENADR_PREFIX, objectTypes, problem, program, report, resource, subscription, ven,
  type ObjectType,
} from './openadr-schemas.ts';
import { createObject, deleteObject, getObject, searchObjects, updateObject, type Body, type Search } from './openadr-repository.ts';

/**
 * Who may call each VTN operation: an OpenADR client token holding the scope the 3.0.1 definition names
 * (oAuth2ClientCredentials), or a signed-in operator or administrator (the definition's bearerAuth, for the
 * VTN's own pages).
 */
const scope = (s: string): Access => ({ scopes: [s], roles: ['admin', 'operator'] });
const READ = scope('read_all');

const list = <T extends z.ZodType>(item: T) => z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(item).optional());
const paging = {
  skip: z.coerce.number().int().min(0).default(0).describe('number of records to skip for pagination'),
  limit: z.coerce.number().int().min(0).max(50).default(50).describe('maximum number of records to return (at most 50)'),
};
const targeting = {
  targetType: z.string().max(128).optional().describe('Indicates targeting type, e.g. GROUP'),
  targetValues: list(z.string().max(128)).describe('List of target values, e.g. group names'),
};
const errors = { 400: problem, 403: problem, 404: problem, 409: problem };

interface Collection {
  type: ObjectType; path: string; idParam: string; tag: string; schema: z.ZodObject; write: string;
  query: z.ZodObject; search: (q: Record<string, unknown>) => Omit<Search, 'skip' | 'limit'>;
  /** checks and rewrites a body before it is stored (subscriptions: their callback URLs) */
  prepare?: (body: Body) => Promise<Body>;
}

/**
 * The OpenADR 3.0.1 VTN (issue 15), mounted at /openadr/3.0.1: programs, events, reports, subscriptions, vens and
 * their resources (search, create, get, update, delete: the definition's paths, object shapes, scopes and
 * problem responses), and the client-credentials token endpoint POST /auth/token (application/x-www-form-urlencoded
 * or HTTP Basic client authentication, RFC 6749 §2.3.1, answering the definition's clientCredentialResponse or
 * authError). Subscriptions' callbacks are queued with each change and sent by the worker's webhook outbox
 * (src/alerts/webhook-outbox.ts, kind openadr_subscription).
 */
export function openadrRoutes(app: FastifyInstance, deps: { db: Db; auth: AuthDeps; webhookPolicy: TargetPolicy }): void {
  const { db } = deps;
  const collections: Collection[] = [
    { type: 'PROGRAM', path: '/programs', idParam: 'programID', tag: 'programs', schema: program, write: 'write_programs',
      query: z.object({ ...targeting, ...paging }), search: (q) => ({ targetType: q.targetType as string | undefined, targetValues: q.targetValues as string[] | undefined }) },
    { type: 'EVENT', path: '/events', idParam: 'eventID', tag: 'events', schema: event, write: 'write_events',
      query: z.object({ programID: objectID.optional(), ...targeting, ...paging }),
      search: (q) => ({ programID: q.programID as string | undefined, targetType: q.targetType as string | undefined, targetValues: q.targetValues as string[] | undefined }) },
    { type: 'REPORT', path: '/reports', idParam: 'reportID', tag: 'reports', schema: report, write: 'write_reports',
      query: z.object({ programID: objectID.optional(), eventID: objectID.optional(), clientName: z.string().max(128).optional(), ...paging }),
      search: (q) => ({ programID: q.programID as string | undefined, eventID: q.eventID as string | undefined, clientName: q.clientName as string | undefined }) },
    { type: 'SUBSCRIPTION', path: '/subscriptions', idParam: 'subscriptionID', tag: 'subscriptions', schema: subscription, write: 'write_subscriptions',
      query: z.object({ programID: objectID.optional(), clientName: z.string().max(128).optional(), ...targeting, objects: list(objectTypes), ...paging }),
      search: (q) => ({ programID: q.programID as string | undefined, clientName: q.clientName as string | undefined, targetType: q.targetType as string | undefined,
        targetValues: q.targetValues as string[] | undefined, objects: q.objects as string[] | undefined }),
      prepare: async (body) => {
        const ops = body.objectOperations as Array<{ callbackUrl: string }>;
        for (const [i, op] of ops.entries()) op.callbackUrl = (await checkWebhookUrl(op.callbackUrl, deps.webhookPolicy, `objectOperations/${i}/callbackUrl`)).toString();
        return body;
      } },
    { type: 'VEN', path: '/vens', idParam: 'venID', tag: 'vens', schema: ven, write: 'write_vens',
      query: z.object({ venName: z.string().max(128).optional(), ...targeting, ...paging }),
      search: (q) => ({ name: q.venName as string | undefined, targetType: q.targetType as string | undefined, targetValues: q.targetValues as string[] | undefined }) },
  ];
  const r = app.withTypeProvider<ZodTypeProvider>();
  const base = OPENADR_PREFIX;

  for (const c of collections) {
    const params = z.object({ [c.idParam]: objectID });
    const prepare = c.prepare ?? (async (b: Body) => b);
    const tags = ['openadr'];
    const what = c.type.toLowerCase();
    r.get(`${base}${c.path}`, { config: { access: READ }, schema: { tags, summary: `OpenADR: search ${what}s (read_all)`, querystring: c.query, response: { 200: z.array(c.schema), ...errors } } },
      async (req) => {
        const q = req.query as Record<string, unknown>;
        return searchObjects(db, c.type, { ...c.search(q), skip: q.skip as number, limit: q.limit as number });
      });
    r.post(`${base}${c.path}`, { config: { access: scope(c.write) }, schema: { tags, summary: `OpenADR: create a ${what} (${c.write})`, body: c.schema, response: { 201: c.schema, ...errors } } },
      async (req, reply) => reply.code(201).send(await createObject(db, c.type, await prepare(structuredClone(req.body as Body)))));
    r.get(`${base}${c.path}/:${c.idParam}`, { config: { access: READ }, schema: { tags, summary: `OpenADR: one ${what} by id (read_all)`, params, response: { 200: c.schema, ...errors } } },
      async (req) => getObject(db, c.type, (req.params as Record<string, string>)[c.idParam]!, c.idParam));
    r.put(`${base}${c.path}/:${c.idParam}`, { config: { access: scope(c.write) }, schema: { tags, summary: `OpenADR: update a ${what} (${c.write})`, params, body: c.schema, response: { 200: c.schema, ...errors } } },
      async (req) => updateObject(db, c.type, (req.params as Record<string, string>)[c.idParam]!, await prepare(structuredClone(req.body as Body)), c.idParam));
    r.delete(`${base}${c.path}/:${c.idParam}`, { config: { access: scope(c.write) }, schema: { tags, summary: `OpenADR: delete a ${what} (${c.write})`, params, response: { 200: c.schema, ...errors } } },
      async (req) => deleteObject(db, c.type, (req.params as Record<string, string>)[c.idParam]!, c.idParam));
  }

  // /vens/{venID}/resources: a VEN's resources (the definition's scopes: read_all, write_vens)
  const venParams = z.object({ venID: objectID });
  const resParams = z.object({ venID: objectID, resourceID: objectID });
  const tags = ['openadr'];
  const resources = `${base}/vens/:venID/resources`;
  type Resource = z.infer<typeof resource>;
  const wire = <T,>(p: Promise<T>) => p as unknown as Promise<T extends unknown[] ? Resource[] : Resource>;
  r.get(resources, {
    config: { access: READ },
    schema: { tags, summary: 'OpenADR: search a VEN\'s resources (read_all)', params: venParams, querystring: z.object({ resourceName: z.string().max(128).optional(), ...targeting, ...paging }), response: { 200: z.array(resource), ...errors } },
  }, async (req) => {
    await getObject(db, 'VEN', req.params.venID, 'venID');
    const q = req.query;
    return wire(searchObjects(db, 'RESOURCE', { venID: req.params.venID, name: q.resourceName, targetType: q.targetType, targetValues: q.targetValues, skip: q.skip, limit: q.limit }));
  });
  r.post(resources, { config: { access: scope('write_vens') }, schema: { tags, summary: 'OpenADR: create a resource of a VEN (write_vens)', params: venParams, body: resource, response: { 201: resource, ...errors } } },
    async (req, reply) => reply.code(201).send(await wire(createObject(db, 'RESOURCE', req.body as Body, req.params.venID))));
  r.get(`${resources}/:resourceID`, { config: { access: READ }, schema: { tags, summary: 'OpenADR: one resource of a VEN (read_all)', params: resParams, response: { 200: resource, ...errors } } },
    async (req) => wire(getObject(db, 'RESOURCE', req.params.resourceID, 'resourceID', req.params.venID)));
  r.put(`${resources}/:resourceID`, { config: { access: scope('write_vens') }, schema: { tags, summary: 'OpenADR: update a resource of a VEN (write_vens)', params: resParams, body: resource, response: { 200: resource, ...errors } } },
    async (req) => wire(updateObject(db, 'RESOURCE', req.params.resourceID, req.body as Body, 'resourceID', req.params.venID)));
  r.delete(`${resources}/:resourceID`, { config: { access: scope('write_vens') }, schema: { tags, summary: 'OpenADR: delete a resource of a VEN (write_vens)', params: resParams, response: { 200: resource, ...errors } } },
    async (req) => wire(deleteObject(db, 'RESOURCE', req.params.resourceID, 'resourceID', req.params.venID)));

  tokenRoute(app, deps);
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: the id and secret are form-urlencoded before Basic encoding
  try {
    return { id: decodeURIComponent(text.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(text.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    return undefined;
  }
}

/**
 * POST /openadr/3.0.1/auth/token (the definition's fetchToken): grant_type=client_credentials with client_id and
 * client_secret in the form body or HTTP Basic. Failed client authentication counts against the client id and the
 * address like a failed sign-in (src/auth/throttle.ts); while throttled the answer is 429 with Retry-After.
 */
function tokenRoute(app: FastifyInstance, deps: { db: Db; auth: AuthDeps }): void {
  app.register(async (s) => {
    s.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    const oauth = (reply: FastifyReply, err: OAuthError) => {
      if (err.status === 401) reply.header('WWW-Authenticate', 'Basic realm="gridpulse-openadr"');
      return reply.code(err.status).header('cache-control', 'no-store').send({ error: err.error, error_description: err.message });
    };
    // the token endpoint's own error shape (RFC 6749 §5.2) for a body that never reached the handler: malformed JSON,
    // a wrong content type, an oversize form — 400 invalid_request, never a problem body its schema does not declare
    s.setErrorHandler((err, req, reply) => {
      const p = problemOf(err);
      if (p.status >= 500) { req.log.error({ err }, 'request failed'); return sendProblem(reply, p); }
      if (p.status === 400 || p.status === 413 || p.status === 415) return reply.code(400).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: p.detail });
      return sendProblem(reply, p);
    });
    s.post(`${OPENADR_PREFIX}/auth/token`, {
      config: { access: { public: true } },
      schema: {
        tags: ['openadr'], summary: 'OpenADR: fetch an access token (OAuth2 client credentials)',
        description: 'Form body `grant_type=client_credentials&client_id=…&client_secret=…[&scope=read_all write_events]` (or the id and secret by HTTP Basic). '
          + 'Answers a JWT access token (1 h) carrying the granted OpenADR scopes; clients are registered by an administrator (`gridpulse openadr clients create`).',
        consumes: ['application/x-www-form-urlencoded'],
        response: { 200: clientCredentialResponse, 400: authError, 401: authError, 429: problem },
      },
    }, async (req: FastifyRequest, reply) => {
      const form = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, string>;
      const basic = basicCredentials(req.headers.authorization);
      const parsed = clientCredentialRequest.safeParse({ ...form, ...(basic ? { client_id: basic.id, client_secret: basic.secret } : {}) });
      if (!parsed.success) return oauth(reply, new OAuthError('invalid_request', `${parsed.error.issues[0]!.path.join('/') || 'body'}: ${parsed.error.issues[0]!.message}`));
      if (parsed.data.grant_type !== 'client_credentials') return oauth(reply, new OAuthError('unsupported_grant_type', 'only grant_type=client_credentials is supported'));
      const keys = { account: `openadr-client:${parsed.data.client_id}`, ip: `ip:${req.ip}` };
      const wait = await throttleWait(deps.db, [keys.account, keys.ip]);
      if (wait > 0) {
        return reply.code(429).header('retry-after', wait).type('application/problem+json')
          .send({ type: 'about:blank', title: 'Too Many Requests', status: 429, detail: `too many failed attempts: retry in ${wait} s`, field: 'client_secret' });
      }
      try {
        const token = await issueClientToken(deps.auth, parsed.data.client_id, parsed.data.client_secret, parsed.data.scope);
        await clearFailures(deps.db, keys.account);
        return reply.header('cache-control', 'no-store').send(token);
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        if (err.error === 'invalid_client') await recordFailure(deps.db, keys);
        return oauth(reply, err);
      }
    });
  });
}
