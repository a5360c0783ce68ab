import type { FastifyInstance, HTTPMethods } from 'fastify';
import type { SignedIn } from './auth.ts';

/**
 * For the object-level matrix (test/auth/object-level.test.ts): every route whose access says `owner: true`
 * and whose path carries an id needs an entry here, keyed by 'METHOD /url/pattern': how to make an object
 * owned by a user (returning its id for the path), and how to tell it is still there and unchanged
 * (the owner's own view of it). A route without an entry fails the matrix, so no owned route is left untested.
 */
export interface OwnedObjectFixture {
  create(app: FastifyInstance, owner: SignedIn): Promise<string>;
  /** The object as its owner sees it (compared before and after a foreign user's attempt). */
  snapshot(app: FastifyInstance, owner: SignedIn, id: string): Promise<unknown>;
  /** The request body for the route, if it takes one. */
  body?: Record<string, unknown>;
}

const ownKeys = async (app: FastifyInstance, owner: SignedIn) => (await app.inject({ url: '/api/v1/me/keys', headers: owner.headers })).json<{ keys: Array<{ id: string; revokedAt: string | null }> }>().keys;
const ownSessions = async (app: FastifyInstance, owner: SignedIn) => (await app.inject({ url: '/api/v1/me/sessions', headers: owner.headers })).json<{ sessions: Array<{ id: string }> }>().sessions;

const viewBody = { name: 'matrix view', page: 'compare', bas: ['CISO', 'ERCO'], range: { kind: 'relative', last: 'P7D' }, charts: ['demand'] };
// 127.0.0.1 needs the administrator's allowance: the matrix's app may not have it, so a public address (never contacted: no rule fires here)
const alertBody = { name: 'matrix alert', rule: { kind: 'data_late', ba: 'CISO', hours: 3 }, webhookUrl: 'http://93.184.216.34/hook', cooldownMinutes: 60 };
const newView = async (app: FastifyInstance, owner: SignedIn) => (await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: owner.headers, payload: viewBody })).json<{ id: string }>().id;
const newAlert = async (app: FastifyInstance, owner: SignedIn) => (await app.inject({ method: 'POST', url: '/api/v1/me/alerts', headers: owner.headers, payload: alertBody })).json<{ id: string }>().id;
const viewOf = async (app: FastifyInstance, owner: SignedIn, id: string) => (await app.inject({ url: `/api/v1/me/views/${id}`, headers: owner.headers })).json();
const alertOf = async (app: FastifyInstance, owner: SignedIn, id: string) => (await app.inject({ url: `/api/v1/me/alerts/${id}`, headers: owner.headers })).json();
const viewFixture = (body?: Record<string, unknown>): OwnedObjectFixture => ({ create: newView, snapshot: viewOf, ...(body ? { body } : {}) });
const alertFixture = (body?: Record<string, unknown>): OwnedObjectFixture => ({ create: newAlert, snapshot: alertOf, ...(body ? { body } : {}) });

export const OWNED_OBJECTS: Record<string, OwnedObjectFixture> = {
  'GET /api/v1/me/views/:id': viewFixture(),
  'PUT /api/v1/me/views/:id': viewFixture({ ...viewBody, name: 'taken over' }),
  'DELETE /api/v1/me/views/:id': viewFixture(),
  'POST /api/v1/me/views/:id/share': viewFixture(),
  'DELETE /api/v1/me/views/:id/share': {
    create: async (app, owner) => {
      const id = await newView(app, owner);
      await app.inject({ method: 'POST', url: `/api/v1/me/views/${id}/share`, headers: owner.headers });
      return id;
    },
    snapshot: viewOf,
  },
  'GET /api/v1/me/alerts/:id': alertFixture(),
  'PUT /api/v1/me/alerts/:id': alertFixture({ ...alertBody, name: 'taken over', status: 'paused' }),
  'DELETE /api/v1/me/alerts/:id': alertFixture(),
  'GET /api/v1/me/alerts/:id/deliveries': alertFixture(),
  'DELETE /api/v1/me/keys/:id': {
    create: async (app, owner) => (await app.inject({ method: 'POST', url: '/api/v1/me/keys', headers: owner.headers, payload: { name: 'matrix' } })).json<{ key: { id: string } }>().key.id,
    snapshot: async (app, owner, id) => (await ownKeys(app, owner)).find((k) => k.id === id),
  },
  'DELETE /api/v1/me/sessions/:id': {
    create: async (app, owner) => {
      // a second sign-in of the owner: ending it leaves the owner's headers working
      const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: owner.email, password: owner.password } });
      const token = res.json<{ accessToken: string }>().accessToken;
      return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;
    },
    snapshot: async (app, owner, id) => (await ownSessions(app, owner)).find((s) => s.id === id)?.id ?? null,
  },
};

export const routeKey = (method: HTTPMethods | string, url: string) => `${method} ${url}`;
