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

export const OWNED_OBJECTS: Record<string, OwnedObjectFixture> = {
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
