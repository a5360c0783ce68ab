import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { isoInstant } from '../platform/instant.ts';
import { HOUR_MS } from '../grid/time.ts';
import { getBas } from '../grid/ba-repository.ts';
import { HttpProblem } from '../platform/problem.ts';
import { distinctItems } from '../platform/input-guard.ts';

const baCode = z.string().regex(/^[A-Za-z0-9]{2,6}$/, 'an EIA BA code such as CISO').transform((s) => s.toUpperCase());

/** The charts a view can show: the panels of /compare and /ba/{code}. */
export const VIEW_CHARTS = ['demand', 'generation', 'intensity', 'interchange', 'forecast', 'mix'] as const;

/** A relative range counts back from the moment the view is opened: PT{n}H or P{n}D (e.g. P7D, "last 7 days"). */
const RELATIVE = /^P(?:(\d{1,3})D|T(\d{1,4})H)$/;

/** A range as answered: the instants already canonical. */
export const viewRangeOut = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('relative'), last: z.string() }),
  z.object({ kind: z.literal('absolute'), from: z.string(), to: z.string() }),
]);

export const viewRange = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('relative'), last: z.string().regex(RELATIVE, 'an ISO 8601 duration in days or hours, e.g. P7D (last 7 days) or PT48H')
    .refine((s) => relativeHours(s) >= 1, 'at least one hour (PT1H): an empty range shows nothing')
    .refine((s) => relativeHours(s) <= 366 * 24, 'at most P366D') }),
  z.object({ kind: z.literal('absolute'), from: isoInstant, to: isoInstant })
    .refine((r) => r.from < r.to, { message: 'from must be before to', path: ['to'] }),
]);

export function relativeHours(last: string): number {
  const m = RELATIVE.exec(last);
  if (!m) return NaN;
  return m[1] !== undefined ? Number(m[1]) * 24 : Number(m[2]);
}

export const viewInput = z.object({
  name: z.string().trim().min(1).max(120),
  page: z.enum(['compare', 'ba']).describe('the page the view opens: /compare (several BAs) or /ba/{code} (one)'),
  bas: distinctItems(z.array(baCode).min(1).max(12)),
  range: viewRange,
  charts: distinctItems(z.array(z.enum(VIEW_CHARTS)).max(VIEW_CHARTS.length)).default([]),
}).refine((v) => v.page !== 'ba' || v.bas.length === 1, { message: 'a ba view names exactly one BA', path: ['bas'] });

export type ViewInput = z.output<typeof viewInput>;

export interface SavedView extends ViewInput { id: string; shared: boolean; createdAt: string; updatedAt: string }

/**
 * The page address a view opens, with the range made absolute at `now` for a relative one (hour-aligned,
 * ending with the current hour): /compare?bas=CISO,ERCO&from=…&to=…&charts=… or /ba/CISO?from=…&to=….
 */
export function viewHref(v: Pick<ViewInput, 'page' | 'bas' | 'range' | 'charts'>, now = new Date()): string {
  const to = v.range.kind === 'absolute' ? v.range.to : new Date(Math.ceil(now.getTime() / HOUR_MS) * HOUR_MS).toISOString();
  const from = v.range.kind === 'absolute' ? v.range.from : new Date(Date.parse(to) - relativeHours(v.range.last) * HOUR_MS).toISOString();
  const q = new URLSearchParams();
  if (v.page === 'compare') q.set('bas', v.bas.join(','));
  q.set('from', from);
  q.set('to', to);
  if (v.charts.length) q.set('charts', v.charts.join(','));
  return `${v.page === 'compare' ? '/compare' : `/ba/${encodeURIComponent(v.bas[0]!)}`}?${q.toString()}`;
}

/**
 * Refuses a view naming a BA the registry (balancing_authorities) does not hold, retired ones allowed: such a view
 * would only ever open to a 404. 400 naming the field `bas/{i}` of the first unknown code.
 */
export async function assertKnownBas(db: Db, bas: readonly string[]): Promise<void> {
  const known = new Set((await getBas(db, [...bas])).map((b) => b.code));
  const i = bas.findIndex((code) => !known.has(code));
  if (i >= 0) throw new HttpProblem(400, `unknown balancing authority '${bas[i]}' (see /api/v1/bas)`, `bas/${i}`);
}

interface ViewRow { id: string; name: string; page: 'compare' | 'ba'; bas: string[]; range: unknown; charts: string[]; share_token_hash: string | null; created_at: Date | string; updated_at: Date | string }

const COLUMNS = 'id, name, page, bas, range, charts, share_token_hash, created_at, updated_at';

function toView(r: ViewRow): SavedView {
  return {
    id: r.id, name: r.name, page: r.page, bas: r.bas, range: viewRangeOut.parse(r.range),
    charts: r.charts as SavedView['charts'], shared: r.share_token_hash !== null,
    createdAt: new Date(r.created_at).toISOString(), updatedAt: new Date(r.updated_at).toISOString(),
  };
}

/** Share tokens are 32 random bytes; only their SHA-256 is stored, so the table does not hold usable links. */
const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');
export const SHARE_TOKEN = /^[A-Za-z0-9_-]{43}$/;

export async function createView(db: Db, ownerId: string, v: ViewInput): Promise<SavedView> {
  const [row] = await db.query<ViewRow>(
    `INSERT INTO saved_views (owner_id, name, page, bas, range, charts) VALUES ($1, $2, $3, $4::text[], $5::text::jsonb, $6::text[]) RETURNING ${COLUMNS}`,
    [ownerId, v.name, v.page, v.bas, JSON.stringify(v.range), v.charts]);
  return toView(row!);
}

export async function listViews(db: Db, ownerId: string): Promise<SavedView[]> {
  return (await db.query<ViewRow>(`SELECT ${COLUMNS} FROM saved_views WHERE owner_id = $1 ORDER BY created_at, id`, [ownerId])).map(toView);
}

/** The owner's view; `undefined` for another user's id exactly as for an unknown one. */
export async function getView(db: Db, ownerId: string, id: string): Promise<SavedView | undefined> {
  const [row] = await db.query<ViewRow>(`SELECT ${COLUMNS} FROM saved_views WHERE id = $1 AND owner_id = $2`, [id, ownerId]);
  return row && toView(row);
}

export async function updateView(db: Db, ownerId: string, id: string, v: ViewInput): Promise<SavedView | undefined> {
  const [row] = await db.query<ViewRow>(
    `UPDATE saved_views SET name = $3, page = $4, bas = $5::text[], range = $6::text::jsonb, charts = $7::text[], updated_at = now()
      WHERE id = $1 AND owner_id = $2 RETURNING ${COLUMNS}`,
    [id, ownerId, v.name, v.page, v.bas, JSON.stringify(v.range), v.charts]);
  return row && toView(row);
}

export async function deleteView(db: Db, ownerId: string, id: string): Promise<boolean> {
  return (await db.query('DELETE FROM saved_views WHERE id = $1 AND owner_id = $2 RETURNING id', [id, ownerId])).length > 0;
}

/** Shares a view by a new link token (replacing any earlier one, which stops working); `undefined` when not the owner's. */
export async function shareView(db: Db, ownerId: string, id: string): Promise<string | undefined> {
  const token = randomBytes(32).toString('base64url');
  const rows = await db.query('UPDATE saved_views SET share_token_hash = $3 WHERE id = $1 AND owner_id = $2 RETURNING id', [id, ownerId, tokenHash(token)]);
  return rows.length ? token : undefined;
}

/** Revokes the view's share link; false when not the owner's view. */
export async function unshareView(db: Db, ownerId: string, id: string): Promise<boolean> {
  return (await db.query('UPDATE saved_views SET share_token_hash = NULL WHERE id = $1 AND owner_id = $2 RETURNING id', [id, ownerId])).length > 0;
}

/** The view a share token opens (read-only: no owner, no id); `undefined` for an unknown or revoked token. */
export async function sharedView(db: Db, token: string): Promise<Omit<SavedView, 'id' | 'shared' | 'createdAt'> | undefined> {
  if (!SHARE_TOKEN.test(token)) return undefined;
  const [row] = await db.query<ViewRow>(`SELECT ${COLUMNS} FROM saved_views WHERE share_token_hash = $1`, [tokenHash(token)]);
  if (!row) return undefined;
  const { id: _id, shared: _shared, createdAt: _created, ...rest } = toView(row);
  return rest;
}
