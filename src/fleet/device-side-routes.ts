import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { refusedForContent, type Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { ackMessage, DEVICE_ID, outOfWindow, scheduleMessage, telemetryMessage, windowDetail } from './messages.ts';
import { deviceOfKey, pollState } from './device-repository.ts';
import { getVersion, messageOf } from './schedule-versions.ts';
import { applyAcks, applyTelemetryLatest } from './ledger.ts';
import { countImplausible } from './telemetry-check.ts';
import { markSent, type LoopSettings } from './distribution.ts';
import { ScheduleWaiters } from './schedule-waiters.ts';
import { problem } from './fleet-schemas.ts';
import type { FleetDeps } from './fleet-routes.ts';

/** Device calls: an API key of kind `device` (scope fleet:device), and only for the device it belongs to. */
const DEVICE_ACCESS = { access: { scopes: ['fleet:device'] } } as const;
const tags = ['fleet'];
const deviceOnly = 'The device\'s own key only (`Authorization: Bearer gp_…`, kind device): any other key, a user, or another device\'s key gets 404 as if the device did not exist.';
const params = z.object({ id: z.string().regex(DEVICE_ID, 'a device id') });
const applyOut = z.object({ applied: z.number(), stale: z.number().describe('already known, or older than what is stored'), unknown: z.number().describe('naming a version that does not exist'),
  outOfWindow: z.number().describe('batch messages whose `at` is outside the window (older than 31 days, more than 60 minutes ahead): left out, not applied') });
const telemetryOut = applyOut.extend({
  implausible: z.number().describe('readings breaking a plausibility rule (power beyond the device\'s limits, a scheduleVersion never issued to it): kept in the series, not applied to the device\'s reported state'),
});
const WINDOW_NOTE = 'Each `at` must lie within the last 31 days and at most 60 minutes ahead of the server clock (the same window as MQTT and the ledger): '
  + 'a single message outside it is refused (400 naming `at`); in a batch such messages are left out and counted (`outOfWindow`), the rest applied. '
  + 'A message that fails its schema is 400 naming it by path (`1/version` in a batch). Fields a message schema does not know are ignored, as on MQTT '
  + '(a newer agent\'s messages stay readable); operator bodies refuse them.';

/**
 * The 404 of a device call made with anything but that device's own key: another device's key learns nothing,
 * not even whether the id exists.
 */
async function ownDevice(db: Db, req: FastifyRequest, reply: FastifyReply, id: string): Promise<string> {
  const p = req.principal;
  const mine = p?.kind === 'key' && p.role === 'device' ? await deviceOfKey(db, p.id) : undefined;
  // its device revoked after the access hook let the request in: the same 401 the hook gives a revoked key
  if (mine?.revoked) throw revokedMeanwhile(reply);
  if (mine?.id !== id) throw new HttpProblem(404, `id: no device ${id} for this key`, 'id');
  return id;
}

/** The access hook's answer to a revoked key (access-hook.ts), for a request let in just before the device was revoked. */
function revokedMeanwhile(reply: FastifyReply): HttpProblem {
  reply.header('www-authenticate', 'Bearer realm="gridpulse", error="invalid_token"');
  return new HttpProblem(401, 'unknown, revoked or expired API key', 'authorization');
}

const etag = (v: number) => `"v${v}"`;

/** The entity tags of an If-None-Match header, weak ones as their strong form (RFC 9110 13.1.2: the weak comparison). */
function ifNoneMatch(header: string | string[] | undefined): Set<string> {
  const raw = Array.isArray(header) ? header.join(',') : header ?? '';
  return new Set(raw.split(',').map((t) => t.trim().replace(/^W\//, '')).filter(Boolean));
}

/** Whether the tags name version `v`: its tag, or * when a version exists ("v0", no version, is matched by its tag only). */
const matchesTag = (known: ReadonlySet<string>, v: number) => known.has(etag(v)) || (v > 0 && known.has('*'));

/** One message or a batch of them, each naming the device of the path. */
const batchOf = <T extends z.ZodType>(m: T) => z.union([m, z.array(m).min(1).max(1_000)]);
function list<T extends { deviceId: string; at: string }>(body: T | T[], id: string, now: number): T[] {
  const items = Array.isArray(body) ? body : [body];
  const prefix = (i: number) => (Array.isArray(body) ? `${i}/` : '');
  const i = items.findIndex((m) => m.deviceId !== id);
  if (i >= 0) throw new HttpProblem(400, `${prefix(i)}deviceId: must be the device of the path (${id})`, `${prefix(i)}deviceId`);
  // the same window as the gateway and the ledger (messages.ts): a future `at` would freeze the reported state. One
  // message outside it is refused; in a batch (an agent's outbox) it is left out and counted, so one bad clock
  // reading never blocks the rest of the outbox
  const why = Array.isArray(body) ? null : outOfWindow(items[0]!.at, now);
  if (why) throw new HttpProblem(400, windowDetail(why), 'at');
  return items;
}

/**
 * Runs the storing of a device's messages; a refusal by the database for their content (db.ts refusedForContent:
 * SQLSTATE class 22 or 23 — a value the schemas let through that a column cannot hold) is the client's 400, never a
 * 500: the agent's HTTP link then isolates the message refused (http-link.ts) instead of retrying its outbox forever.
 */
async function storing<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (refusedForContent(err)) throw new HttpProblem(400, 'body: a value the store cannot hold (out of its column\'s range)', 'body');
    throw err;
  }
}

/** GET …/schedule (ETag, long poll), POST …/acks and …/telemetry: the HTTP fallback of agents that cannot reach the broker. */
export async function deviceSideRoutes(app: FastifyInstance, db: Db, deps: FleetDeps, s: LoopSettings): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const waiters = await ScheduleWaiters.start(db);
  app.addHook('onClose', async () => { await waiters.close(); });

  r.get('/api/v1/devices/:id/schedule', {
    config: DEVICE_ACCESS,
    schema: {
      tags, summary: 'The device\'s desired schedule (gridpulse.schedule/1), with ETag and long polling',
      description: `${deviceOnly} ETag is "v{version}" ("v0" while none was issued). If-None-Match may list several tags, weak (W/"v2") or strong, or be *; `
        + 'a matching one answers 304. ?wait=N (1–30 s) holds a request that has nothing new to get — its If-None-Match matches, or no version was issued yet — '
        + 'until a new version exists (then 200 with it) or N seconds pass (then 304, or 204 when still no version exists). 204 when no version was ever issued. '
        + 'When the device or its key is revoked while the request waits, it ends at once with 401, as any later call would. '
        + 'Fetching a version counts as sent in the ledger; only the device\'s acknowledgement (POST …/acks or MQTT) moves it further.',
      params, querystring: z.object({ wait: z.coerce.number().int().min(0).max(30).default(0).describe('seconds to hold a request with nothing new to get (see above)') }),
      response: { 200: scheduleMessage, 204: z.null().describe('no version issued yet'), 304: z.null().describe('not modified (If-None-Match)'), 404: problem },
    },
  }, async (req, reply) => {
    const id = await ownDevice(db, req, reply, req.params.id);
    const keyId = req.principal!.id;
    const known = ifNoneMatch(req.headers['if-none-match']);
    // the request has nothing new to get: the device's version is one it named, or there is none yet
    const nothingNew = (v: number) => v === 0 || matchesTag(known, v);
    const gone = new AbortController();
    reply.raw.once('close', () => gone.abort());
    const state = await waiters.until({ deviceId: id, keyId }, req.query.wait * 1_000, () => pollState(db, id, keyId),
      (st) => st.revoked || !nothingNew(st.desiredVersion), gone.signal);
    // the access hook's answer to a revoked key, given to a request let in before the revocation
    if (state.revoked) throw revokedMeanwhile(reply);
    // an HTTP poll is a sign of life (not of a device revoked since)
    await db.query('UPDATE devices SET online = true, status_at = $2, last_seen_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, new Date(s.now())]);
    reply.header('etag', etag(state.desiredVersion)).header('cache-control', 'no-store');
    if (matchesTag(known, state.desiredVersion)) return reply.code(304).send(null);
    if (state.desiredVersion === 0) return reply.code(204).send(null);
    // the answer is the device's desired version read under its row lock, in the statement that records it sent:
    // a version superseded meanwhile is never served (the newest is)
    const v = await db.transaction(async (tx) => {
      const [row] = await tx.query<{ version: number }>('SELECT desired_version AS version FROM devices WHERE id = $1 FOR SHARE', [id]);
      const latest = (await getVersion(tx, id, Number(row!.version)))!;
      await markSent(tx, [{ deviceId: id, version: latest.version }], s);
      return latest;
    });
    reply.header('etag', etag(v.version));
    return messageOf(v);
  });

  r.post('/api/v1/devices/:id/acks', {
    config: DEVICE_ACCESS,
    schema: {
      tags, summary: 'Acknowledge schedule versions (gridpulse.ack/1, one or a batch of up to 1,000) over HTTP',
      description: `${deviceOnly} The same messages as on MQTT, applied to the delivery ledger the same way (only forward; replays are stale). Every message must name this device. ${WINDOW_NOTE}`,
      params, body: batchOf(ackMessage), response: { 200: applyOut, 400: problem, 404: problem },
    },
  }, async (req, reply) => {
    const id = await ownDevice(db, req, reply, req.params.id);
    const acks = list(req.body, id, s.now());
    // device data, not an operator's change: the ledger is its record (an audit row per ack would outgrow the ledger)
    req.audited = true;
    const { revoked, ...out } = await storing(() => applyAcks(db, acks, new Date(s.now())));
    // revoked after the request was let in: nothing applied (the ledger checks under the device's lock), nothing stored
    if (revoked) throw revokedMeanwhile(reply);
    if (out.outOfWindow) req.log.warn({ deviceId: id, outOfWindow: out.outOfWindow }, 'acks refused: at outside the accepted window');
    if (deps.ackSink) await storing(() => deps.ackSink!(acks));
    req.log.info({ deviceId: id, ...out }, 'acks over HTTP');
    return out;
  });

  r.post('/api/v1/devices/:id/telemetry', {
    config: DEVICE_ACCESS,
    schema: {
      tags, summary: 'Send telemetry (gridpulse.telemetry/1, one or a batch of up to 1,000) over HTTP',
      description: `${deviceOnly} The newest plausible message sets the device's reported SoC, power and executing version (an implausible one is counted in implausible, kept in the series flagged with its rule, left out of every chart, settlement and delivery check); the series goes to the gateway's store. ${WINDOW_NOTE}`,
      params, body: batchOf(telemetryMessage), response: { 200: telemetryOut, 400: problem, 404: problem },
    },
  }, async (req, reply) => {
    const id = await ownDevice(db, req, reply, req.params.id);
    const items = list(req.body, id, s.now());
    req.audited = true;
    const { revoked, implausible, ...out } = await storing(() => db.transaction((tx) => applyTelemetryLatest(tx, items, new Date(s.now()))));
    if (revoked) throw revokedMeanwhile(reply);
    if (out.outOfWindow) req.log.warn({ deviceId: id, outOfWindow: out.outOfWindow }, 'telemetry refused: at outside the accepted window');
    if (implausible.length) {
      countImplausible(db, implausible);
      // one line per request, whatever the batch's size (telemetry-check.ts)
      req.log.warn({ deviceId: id, implausible: implausible.length, first: implausible[0] }, 'implausible telemetry: kept in the series, not applied to the device\'s state');
    }
    await db.query('UPDATE devices SET online = true, status_at = GREATEST(status_at, $2) WHERE id = $1 AND revoked_at IS NULL', [id, new Date(s.now())]);
    // the series stored with the verdicts just decided (telemetry-check.ts): an implausible reading flagged with its rule
    if (deps.telemetrySink) await storing(() => deps.telemetrySink!(items, implausible));
    return { ...out, implausible: implausible.length };
  });
}
