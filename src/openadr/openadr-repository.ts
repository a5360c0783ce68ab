import { randomBytes } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { enqueueDelivery } from '../alerts/webhook-outbox.ts';
import { eventSpan } from './event-intervals.ts';
import type { ObjectType, OpenadrEvent } from './openadr-schemas.ts';

/**
 * The VTN's objects in one table (openadr_objects, migration 0034): each object's JSON as the client sent it,
 * minus what the VTN provisions (id, createdDateTime, modificationDateTime, objectType, a resource's venID),
 * which is added back on the way out. Changes enqueue the matching subscriptions' callbacks in the same
 * transaction (the webhook outbox, kind openadr_subscription: src/alerts/webhook-outbox.ts).
 */
export type Body = Record<string, unknown>;
export interface WireObject extends Body { id: string; createdDateTime: string; modificationDateTime: string; objectType: ObjectType }

interface Row { id: string; object_type: ObjectType; ven_id: string | null; body: Body; created_at: Date | string; modified_at: Date | string }
const COLUMNS = 'id, object_type, ven_id, body, created_at, modified_at';
const PROVISIONED = ['id', 'createdDateTime', 'modificationDateTime', 'objectType'];

/** A stored row as the definition's object (its jsonb body arrives as an object from the Db on both stores). */
export function toWire(r: Row): WireObject {
  return {
    id: r.id, createdDateTime: new Date(r.created_at).toISOString(), modificationDateTime: new Date(r.modified_at).toISOString(),
    objectType: r.object_type, ...r.body, ...(r.object_type === 'RESOURCE' ? { venID: r.ven_id } : {}),
  } as WireObject;
}

/** The columns searches and overrides filter on, from an object of a type. */
interface Keys { name: string | null; programId: string | null; eventId: string | null; venId: string | null; clientName: string | null; startsAt: Date | null; endsAt: Date | null }

function keysOf(type: ObjectType, body: Body, venId: string | null, selfId: string): Keys {
  const s = (k: string) => (typeof body[k] === 'string' ? body[k] as string : null);
  const span = type === 'EVENT' ? eventSpan(body as unknown as OpenadrEvent) : { startsAt: null, endsAt: null };
  const name = { PROGRAM: s('programName'), EVENT: s('eventName'), REPORT: s('reportName'), SUBSCRIPTION: null, VEN: s('venName'), RESOURCE: s('resourceName') }[type];
  return {
    name, programId: type === 'PROGRAM' ? selfId : s('programID'), eventId: type === 'REPORT' ? s('eventID') : null,
    venId: type === 'VEN' ? selfId : venId, clientName: s('clientName'), ...span,
  };
}

const ID_PREFIX: Record<ObjectType, string> = { PROGRAM: 'program', EVENT: 'event', REPORT: 'report', SUBSCRIPTION: 'subscription', VEN: 'ven', RESOURCE: 'resource' };
const NAME_FIELD: Partial<Record<ObjectType, string>> = { PROGRAM: 'programName', VEN: 'venName', RESOURCE: 'resourceName' };

function stripProvisioned(body: Body): Body {
  const out: Body = {};
  for (const [k, v] of Object.entries(body)) if (!PROVISIONED.includes(k) && k !== 'venID' && v !== undefined) out[k] = v;
  return out;
}

/** 404 naming the field when an object an object refers to does not exist. */
async function mustExist(db: Db, type: ObjectType, id: string | null, field: string): Promise<void> {
  if (id === null) return;
  const [row] = await db.query('SELECT 1 FROM openadr_objects WHERE id = $1 AND object_type = $2', [id, type]);
  if (!row) throw new HttpProblem(404, `${field}: no ${type.toLowerCase()} '${id}'`, field);
}

async function checkReferences(db: Db, type: ObjectType, k: Keys): Promise<void> {
  if (type === 'EVENT' || type === 'SUBSCRIPTION' || type === 'REPORT') await mustExist(db, 'PROGRAM', k.programId, 'programID');
  if (type === 'REPORT') await mustExist(db, 'EVENT', k.eventId, 'eventID');
  if (type === 'RESOURCE') await mustExist(db, 'VEN', k.venId, 'venID');
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';
const conflict = (type: ObjectType) => new HttpProblem(409, `${NAME_FIELD[type] ?? 'name'}: a ${type.toLowerCase()} with this name already exists`, NAME_FIELD[type]);

/**
 * Writes one object row (an INSERT or UPDATE … RETURNING it) in a savepoint, so a unique violation (a taken name)
 * becomes 409 and leaves the transaction usable, then queues the subscribers' notifications of the operation.
 */
async function writeObject(tx: Db, type: ObjectType, programId: string | null, operation: 'CREATE' | 'UPDATE', sql: string, params: unknown[]): Promise<WireObject> {
  let row: Row | undefined;
  try {
    [row] = await tx.transaction((sp) => sp.query<Row>(sql, params));
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(type);
    throw err;
  }
  const out = toWire(row!);
  await enqueueNotifications(tx, out, operation, programId);
  return out;
}

/** Creates an object; 409 when its name is taken (programName, venName, resourceName within its VEN), 404 for a missing referenced object. */
export async function createObject(db: Db, type: ObjectType, input: Body, venId: string | null = null): Promise<WireObject> {
  const id = `${ID_PREFIX[type]}-${randomBytes(6).toString('hex')}`;
  const body = stripProvisioned(input);
  const k = keysOf(type, body, venId, id);
  return db.transaction(async (tx) => {
    await checkReferences(tx, type, k);
    return writeObject(tx, type, k.programId, 'CREATE',
      `INSERT INTO openadr_objects (id, object_type, name, program_id, event_id, ven_id, client_name, starts_at, ends_at, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb) RETURNING ${COLUMNS}`,
      [id, type, k.name, k.programId, k.eventId, k.venId, k.clientName, k.startsAt, k.endsAt, JSON.stringify(body)]);
  });
}

export interface Search {
  programID?: string | undefined; eventID?: string | undefined; clientName?: string | undefined; venID?: string | undefined;
  name?: string | undefined; targetType?: string | undefined; targetValues?: string[] | undefined; objects?: string[] | undefined;
  skip: number; limit: number;
}

/** Objects of a type, oldest first, filtered as the definition's search operations say; `skip` and `limit` page. */
export async function searchObjects(db: Db, type: ObjectType, q: Search): Promise<WireObject[]> {
  const where = ['object_type = $1'];
  const params: unknown[] = [type];
  const add = (sql: string, v: unknown) => { params.push(v); where.push(sql.replace('?', `$${params.length}`)); };
  if (q.programID !== undefined) add('program_id = ?', q.programID);
  if (q.eventID !== undefined) add('event_id = ?', q.eventID);
  if (q.clientName !== undefined) add('client_name = ?', q.clientName);
  if (q.venID !== undefined) add('ven_id = ?', q.venID);
  if (q.name !== undefined) add('name = ?', q.name);
  if (q.targetType !== undefined) {
    add(`EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(body->'targets') WHEN 'array' THEN body->'targets' ELSE '[]'::jsonb END) t
                  WHERE t->>'type' = ?`, q.targetType);
    if (q.targetValues?.length) {
      params.push(q.targetValues);
      where[where.length - 1] += ` AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE jsonb_typeof(t->'values') WHEN 'array' THEN t->'values' ELSE '[]'::jsonb END) v
                                              WHERE v = ANY($${params.length}::text[]))`;
    }
    where[where.length - 1] += ')';
  }
  if (q.objects?.length) {
    params.push(q.objects);
    where.push(`EXISTS (SELECT 1 FROM jsonb_array_elements(body->'objectOperations') o, jsonb_array_elements_text(o->'objects') ob WHERE ob = ANY($${params.length}::text[]))`);
  }
  params.push(q.limit, q.skip);
  const rows = await db.query<Row>(`SELECT ${COLUMNS} FROM openadr_objects WHERE ${where.join(' AND ')} ORDER BY created_at, id LIMIT $${params.length - 1} OFFSET $${params.length}`, params);
  return rows.map(toWire);
}

/** One object of a type by id (and, for a resource, its VEN), or 404 naming the id's path parameter. */
export async function getObject(db: Db, type: ObjectType, id: string, field: string, venId?: string): Promise<WireObject> {
  const rows = venId === undefined
    ? await db.query<Row>(`SELECT ${COLUMNS} FROM openadr_objects WHERE id = $1 AND object_type = $2`, [id, type])
    : await db.query<Row>(`SELECT ${COLUMNS} FROM openadr_objects WHERE id = $1 AND object_type = $2 AND ven_id = $3`, [id, type, venId]);
  if (!rows[0]) throw new HttpProblem(404, `${field}: no ${type.toLowerCase()} '${id}'`, field);
  return toWire(rows[0]);
}

/** Replaces an object's body (PUT); 404 / 409 as for create. */
export async function updateObject(db: Db, type: ObjectType, id: string, input: Body, field: string, venId: string | null = null): Promise<WireObject> {
  const body = stripProvisioned(input);
  const k = keysOf(type, body, venId, id);
  return db.transaction(async (tx) => {
    await getObject(tx, type, id, field, venId ?? undefined);
    await checkReferences(tx, type, k);
    return writeObject(tx, type, k.programId, 'UPDATE',
      `UPDATE openadr_objects SET name = $3, program_id = $4, event_id = $5, ven_id = $6, client_name = $7, starts_at = $8, ends_at = $9,
              body = $10::text::jsonb, modified_at = greatest(now(), modified_at + interval '1 millisecond')
        WHERE id = $1 AND object_type = $2 RETURNING ${COLUMNS}`,
      [id, type, k.name, k.programId, k.eventId, k.venId, k.clientName, k.startsAt, k.endsAt, JSON.stringify(body)]);
  });
}

/** Deletes an object and answers it as it was (the definition's DELETE returns the object); a VEN takes its resources with it. */
export async function deleteObject(db: Db, type: ObjectType, id: string, field: string, venId?: string): Promise<WireObject> {
  return db.transaction(async (tx) => {
    const before = await getObject(tx, type, id, field, venId);
    await tx.query('DELETE FROM openadr_objects WHERE id = $1 AND object_type = $2', [id, type]);
    if (type === 'VEN') await tx.query(`DELETE FROM openadr_objects WHERE object_type = 'RESOURCE' AND ven_id = $1`, [id]);
    const programId = type === 'PROGRAM' ? id : typeof before.programID === 'string' ? before.programID : null;
    await enqueueNotifications(tx, before, 'DELETE', programId);
    return before;
  });
}

type Operation = 'CREATE' | 'UPDATE' | 'DELETE';
const HTTP_OF: Record<Operation, 'POST' | 'PUT' | 'DELETE'> = { CREATE: 'POST', UPDATE: 'PUT', DELETE: 'DELETE' };

/**
 * Queues a callback for every subscription that asks for this object type and operation: of the object's
 * program (subscriptions are per program), or of any program for objects outside programs (VEN, RESOURCE).
 * The body is the definition's notification {objectType, operation, object}; `operation` uses the definition's
 * HTTP verbs (POST, PUT, DELETE).
 */
async function enqueueNotifications(db: Db, object: WireObject, op: Operation, programId: string | null): Promise<void> {
  const subs = await db.query<Row>(
    // in creation order (then id): the order the callbacks are queued, and delivered, in; a scan without ORDER BY
    // returned whatever order the heap held (an updated subscription moved behind the others)
    `SELECT ${COLUMNS} FROM openadr_objects WHERE object_type = 'SUBSCRIPTION' AND ($1::text IS NULL OR program_id = $1) ORDER BY created_at, id`, [programId]);
  for (const sub of subs) {
    const body = sub.body as { objectOperations?: Array<{ objects: string[]; operations: string[]; callbackUrl: string; bearerToken?: string | null }>; targets?: unknown };
    for (const oo of body.objectOperations ?? []) {
      if (!oo.objects.includes(object.objectType) || !oo.operations.includes(op)) continue;
      const payload = JSON.stringify({ objectType: object.objectType, operation: HTTP_OF[op], object, ...(body.targets ? { targets: body.targets } : {}) });
      await enqueueDelivery(db, { kind: 'openadr_subscription', subscriptionId: sub.id, callbackUrl: oo.callbackUrl, bearerToken: oo.bearerToken ?? null, payload });
    }
  }
}
