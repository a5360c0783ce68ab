import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { ownedChange, ownerAccess, ownerOf } from '../accounts/owner.ts';
import { PUBLIC } from '../auth/access.ts';
import { assertKnownBas, createView, deleteView, getView, listViews, sharedView, shareView, unshareView, updateView, viewHref, viewInput, viewRangeOut, VIEW_CHARTS, type SavedView } from './saved-view.ts';

const problem = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), field: z.string().optional() });
const idParams = z.object({ id: z.uuid('a view id (UUID)') });
const tokenParams = z.object({ token: z.string().max(64) });
const savedView = z.object({
  id: z.string(), name: z.string(), page: z.enum(['compare', 'ba']), bas: z.array(z.string()), range: viewRangeOut,
  charts: z.array(z.enum(VIEW_CHARTS)), shared: z.boolean().describe('whether a share link is live'),
  href: z.string().describe('the page the view opens now (a relative range made absolute at the time of the request)'),
  createdAt: z.string(), updatedAt: z.string(),
});
const owned = 'Signed-in users only (session cookie or `Authorization: Bearer`); 401 otherwise. Another user\'s view id answers 404, like an unknown one.';
const notFound = () => new HttpProblem(404, 'no such view', 'id');
const withHref = (v: SavedView) => ({ ...v, href: viewHref(v) });

/** Saved views: CRUD for their owner at /api/v1/me/views, read-only sharing by revocable link. */
export function viewRoutes(app: FastifyInstance, db: Db): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['saved views'];
  const read = { access: ownerAccess('views:read') };
  const write = { access: ownerAccess('views:write') };
  const change = <T,>(req: FastifyRequest, action: string, fn: (tx: Db) => Promise<T | undefined>, id?: (t: T) => string) =>
    ownedChange(db, req, { action, objectType: 'saved_view', notFound }, fn, id);
  r.get('/api/v1/me/views', { config: read, schema: { tags, summary: 'Your saved views', description: owned, response: { 200: z.object({ data: z.array(savedView) }) } } },
    async (req) => ({ data: (await listViews(db, ownerOf(req))).map(withHref) }));
  r.post('/api/v1/me/views', {
    config: write,
    schema: {
      tags, summary: 'Save a view: BAs, a date range (absolute, or relative such as P7D = the last 7 days) and the charts shown', description: owned,
      body: viewInput, response: { 201: savedView, 400: problem },
    },
  }, async (req, reply) => {
    await assertKnownBas(db, req.body.bas);
    return reply.code(201).send(withHref(await change(req, 'views.create', (tx) => createView(tx, ownerOf(req), req.body), (v) => v.id)));
  });
  r.get('/api/v1/me/views/:id', { config: read, schema: { tags, summary: 'One of your saved views', description: owned, params: idParams, response: { 200: savedView, 404: problem } } },
    async (req) => { const v = await getView(db, ownerOf(req), req.params.id); if (!v) throw notFound(); return withHref(v); });
  r.put('/api/v1/me/views/:id', { config: write, schema: { tags, summary: 'Replace a saved view', description: owned, params: idParams, body: viewInput, response: { 200: savedView, 400: problem, 404: problem } } },
    async (req) => { await assertKnownBas(db, req.body.bas); return withHref(await change(req, 'views.update', (tx) => updateView(tx, ownerOf(req), req.params.id, req.body))); });
  r.delete('/api/v1/me/views/:id', { config: write, schema: { tags, summary: 'Delete a saved view (its share link stops working)', description: owned, params: idParams } },
    async (req, reply) => { await change(req, 'views.delete', (tx) => deleteView(tx, ownerOf(req), req.params.id)); return reply.code(204).send(); });
  r.post('/api/v1/me/views/:id/share', {
    config: write,
    schema: {
      tags, summary: 'Share a view by link (read-only); a new link replaces the old one, which stops working',
      description: `${owned} The token is shown once; only its SHA-256 is stored.`, params: idParams,
      response: { 200: z.object({ token: z.string(), url: z.string().describe('/v/{token}: opens the page as saved'), api: z.string() }), 404: problem },
    },
  }, async (req) => {
    const token = await change(req, 'views.share', (tx) => shareView(tx, ownerOf(req), req.params.id));
    return { token, url: `/v/${token}`, api: `/api/v1/shared/views/${token}` };
  });
  r.delete('/api/v1/me/views/:id/share', { config: write, schema: { tags, summary: 'Revoke a view\'s share link', description: owned, params: idParams } },
    async (req, reply) => { await change(req, 'views.unshare', (tx) => unshareView(tx, ownerOf(req), req.params.id)); return reply.code(204).send(); });

  const shared = async (token: string) => {
    const v = await sharedView(db, token);
    if (!v) throw new HttpProblem(404, 'no shared view for this link (it may have been revoked)', 'token');
    return { ...v, href: viewHref(v) };
  };
  r.get('/api/v1/shared/views/:token', {
    config: { access: PUBLIC },
    schema: {
      tags, summary: 'A shared view, read-only (public: the link is the permission)', params: tokenParams,
      response: { 200: savedView.omit({ id: true, shared: true, createdAt: true }), 404: problem },
    },
  }, async (req) => shared(req.params.token));
  r.get('/v/:token', { config: { access: PUBLIC }, schema: { hide: true, params: tokenParams } }, async (req, reply) => reply.redirect((await shared(req.params.token)).href, 302));
}
