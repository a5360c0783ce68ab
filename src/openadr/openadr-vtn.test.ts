import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { SignJWT, generateKeyPair } from 'jose';
import { testDatabases } from '../../test/support/databases.ts';
import { authHeaders, keyHeaders } from '../../test/support/auth.ts';
import { buildApp } from '../app.ts';
import { memoryCache } from '../platform/cache.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { createClient, revokeClient } from '../auth/client-credentials.ts';
import { openadrBearer, openadrToken } from '../../test/support/openadr.ts';
import { webhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver.ts';
import { deliverDue, DEFAULT_OUTBOX } from '../alerts/webhook-outbox.ts';
import { activeEventOverrides } from './event-overrides.ts';

const V = '/openadr/3.0.1';
const logger = pino({ level: 'silent' });
const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const priceEvent = (programID: string, start: string, prices: number[], extra: Record<string, unknown> = {}) => ({
  programID, eventName: 'day-ahead prices', payloadDescriptors: [{ payloadType: 'PRICE', units: 'KWH', currency: 'USD' }],
  intervalPeriod: { start, duration: 'PT1H' },
  intervals: prices.map((p, id) => ({ id, payloads: [{ type: 'PRICE', values: [p] }] })), ...extra,
});

for (const target of testDatabases()) {
  describe(`OpenADR 3.0.1 VTN (${target.name})`, () => {
    let db: Db;
    let app: FastifyInstance;
    let hook: WebhookReceiver;
    before(async () => {
      db = await target.open();
      await migrate(db);
      // private callback targets allowed so the test's receiver on 127.0.0.1 can be subscribed
      app = await buildApp({ db, logger, cache: memoryCache(), webhookPolicy: { allowPrivate: true } });
      hook = await webhookReceiver('/cb');
    });
    after(async () => { await app.close(); await hook.close(); await db.close(); });

    it('a utility (BL client) creates a program and a PRICE event; a VEN reads them in the definition\'s shapes', async () => {
      const bl = await openadrBearer(app, db, 'bl');
      const venClient = await openadrBearer(app, db, 'ven');
      const p = await app.inject({ method: 'POST', url: `${V}/programs`, headers: bl.headers, payload: { programName: 'GP-TOU', programType: 'PRICING_TARIFF', objectType: 'PROGRAM', id: 'chosen-by-client' } });
      assert.equal(p.statusCode, 201, p.body);
      const prog = p.json();
      assert.equal(prog.objectType, 'PROGRAM');
      assert.notEqual(prog.id, 'chosen-by-client', 'the VTN provisions ids');
      assert.match(prog.id, /^[a-zA-Z0-9_-]+$/);
      assert.ok(!Number.isNaN(Date.parse(prog.createdDateTime)) && !Number.isNaN(Date.parse(prog.modificationDateTime)));
      const e = await app.inject({ method: 'POST', url: `${V}/events`, headers: bl.headers, payload: priceEvent(prog.id, '2030-01-01T00:00:00Z', [0.1, 0.5]) });
      assert.equal(e.statusCode, 201, e.body);
      assert.equal(e.json().objectType, 'EVENT');
      const list = await app.inject({ method: 'GET', url: `${V}/events?programID=${prog.id}`, headers: venClient.headers });
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(list.json().map((x: { id: string }) => x.id), [e.json().id]);
      assert.deepEqual(list.json()[0].intervals[1].payloads, [{ type: 'PRICE', values: [0.5] }]);
      const dup = await app.inject({ method: 'POST', url: `${V}/programs`, headers: bl.headers, payload: { programName: 'GP-TOU' } });
      assert.equal(dup.statusCode, 409);
      assert.equal(dup.json().field, 'programName');
      const put = await app.inject({ method: 'PUT', url: `${V}/programs/${prog.id}`, headers: bl.headers, payload: { programName: 'GP-TOU', programLongName: 'GridPulse time of use' } });
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(put.json().programLongName, 'GridPulse time of use');
      assert.equal(put.json().createdDateTime, prog.createdDateTime);
      assert.ok(put.json().modificationDateTime > prog.modificationDateTime);
    });

    it('refuses a request without the scope the definition names (attack: a VEN writing events, a read-only token writing, no token, a forged token)', async () => {
      const bl = await openadrBearer(app, db, 'bl');
      const venClient = await openadrBearer(app, db, 'ven');
      const prog = (await app.inject({ method: 'POST', url: `${V}/programs`, headers: bl.headers, payload: { programName: 'attack-target' } })).json();
      const ev = priceEvent(prog.id, '2030-02-01T00:00:00Z', [9.99]);
      const asVen = await app.inject({ method: 'POST', url: `${V}/events`, headers: venClient.headers, payload: ev });
      assert.equal(asVen.statusCode, 403);
      assert.equal(asVen.headers['content-type'], 'application/problem+json; charset=utf-8');
      // a BL client that asked for read_all only cannot write with that token
      const { client, clientSecret } = await createClient(db, { name: 'bl narrow', kind: 'bl' });
      const narrow = (await openadrToken(app, client.clientId, clientSecret, 'read_all')).json();
      assert.equal(narrow.scope, 'read_all');
      const asNarrow = await app.inject({ method: 'POST', url: `${V}/events`, headers: { authorization: `Bearer ${narrow.access_token}` }, payload: ev });
      assert.equal(asNarrow.statusCode, 403);
      assert.equal((await app.inject({ method: 'POST', url: `${V}/events`, payload: ev })).statusCode, 401);
      assert.equal((await app.inject({ method: 'GET', url: `${V}/events` })).statusCode, 401);
      // a token a VEN mints itself with write_events, signed by its own key: refused
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const forged = await new SignJWT({ client_id: venClient.clientId, scope: 'read_all write_events' }).setProtectedHeader({ alg: 'EdDSA', kid: 'x', typ: 'at+jwt' })
        .setIssuer('gridpulse').setAudience('gridpulse-api').setSubject(venClient.clientId).setIssuedAt().setNotBefore('0s').setExpirationTime('1h').setJti('j').sign(privateKey);
      assert.equal((await app.inject({ method: 'POST', url: `${V}/events`, headers: { authorization: `Bearer ${forged}` }, payload: ev })).statusCode, 401);
      // an unsigned token (alg none) naming every scope
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify({ client_id: venClient.clientId, sub: venClient.clientId, scope: 'write_events' })).toString('base64url')}.`;
      assert.equal((await app.inject({ method: 'POST', url: `${V}/events`, headers: { authorization: `Bearer ${none}` }, payload: ev })).statusCode, 401);
      // an API key (even an admin's personal key) carries no OpenADR scope
      assert.equal((await app.inject({ method: 'GET', url: `${V}/events`, headers: await keyHeaders(db, 'worker') })).statusCode, 403);
      // a revoked client's token stops at once
      await revokeClient(db, bl.clientId);
      assert.equal((await app.inject({ method: 'GET', url: `${V}/programs`, headers: bl.headers })).statusCode, 401);
      const events = (await app.inject({ method: 'GET', url: `${V}/events?programID=${prog.id}`, headers: venClient.headers })).json();
      assert.equal(events.length, 0, 'no refused write left an event');
    });

    it('the token endpoint answers RFC 6749 errors: wrong secret, unknown grant, a scope the client lacks', async () => {
      const { client, clientSecret } = await createClient(db, { name: 'ven errors', kind: 'ven' });
      const wrong = await openadrToken(app, client.clientId, `${clientSecret}x`);
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.json().error, 'invalid_client');
      const unknown = await openadrToken(app, 'oadr_nobody', clientSecret);
      assert.equal(unknown.json().error, 'invalid_client');
      const grant = await app.inject({ method: 'POST', url: `${V}/auth/token`, headers: FORM, payload: form({ grant_type: 'password', client_id: client.clientId, client_secret: clientSecret }) });
      assert.equal(grant.statusCode, 400);
      assert.equal(grant.json().error, 'unsupported_grant_type');
      const scope = await openadrToken(app, client.clientId, clientSecret, 'read_all write_events');
      assert.equal(scope.statusCode, 400);
      assert.equal(scope.json().error, 'invalid_scope');
      const missing = await app.inject({ method: 'POST', url: `${V}/auth/token`, headers: FORM, payload: form({ grant_type: 'client_credentials' }) });
      assert.equal(missing.json().error, 'invalid_request');
      const basic = await app.inject({ method: 'POST', url: `${V}/auth/token`, headers: { ...FORM, authorization: `Basic ${Buffer.from(`${client.clientId}:${clientSecret}`).toString('base64')}` }, payload: form({ grant_type: 'client_credentials' }) });
      assert.equal(basic.statusCode, 200, basic.body);
      assert.equal(basic.json().token_type, 'Bearer');
    });

    it('bad input is a problem naming the field; unknown ids are 404; an operator signed in may use the VTN (bearerAuth)', async () => {
      const op = await authHeaders(app, db, 'operator');
      const bad = await app.inject({ method: 'POST', url: `${V}/events`, headers: op, payload: { programID: 'program-x' } });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().field, 'intervals');
      const noProgram = await app.inject({ method: 'POST', url: `${V}/events`, headers: op, payload: priceEvent('program-missing', '2030-01-01T00:00:00Z', [1]) });
      assert.equal(noProgram.statusCode, 404);
      assert.equal(noProgram.json().field, 'programID');
      assert.equal((await app.inject({ method: 'GET', url: `${V}/vens/nope`, headers: op })).statusCode, 404);
      const badId = await app.inject({ method: 'GET', url: `${V}/programs/${encodeURIComponent('a b')}`, headers: op });
      assert.equal(badId.statusCode, 400);
      assert.equal((await app.inject({ method: 'GET', url: `${V}/programs?limit=51`, headers: op })).json().field, 'limit');
      const viewer = await authHeaders(app, db, 'viewer');
      assert.equal((await app.inject({ method: 'GET', url: `${V}/programs`, headers: viewer })).statusCode, 403);
    });

    it('VENs and their resources; target filters', async () => {
      const venClient = await openadrBearer(app, db, 'ven');
      const v = await app.inject({ method: 'POST', url: `${V}/vens`, headers: venClient.headers, payload: { venName: 'home-42', targets: [{ type: 'GROUP', values: ['pilot'] }] } });
      assert.equal(v.statusCode, 201, v.body);
      const venID = v.json().id;
      const r = await app.inject({ method: 'POST', url: `${V}/vens/${venID}/resources`, headers: venClient.headers, payload: { resourceName: 'battery-1', attributes: [{ type: 'STORAGE_MAX_DISCHARGE_POWER', values: [5] }] } });
      assert.equal(r.statusCode, 201, r.body);
      assert.equal(r.json().venID, venID);
      assert.equal(r.json().objectType, 'RESOURCE');
      const rl = await app.inject({ method: 'GET', url: `${V}/vens/${venID}/resources?resourceName=battery-1`, headers: venClient.headers });
      assert.deepEqual(rl.json().map((x: { id: string }) => x.id), [r.json().id]);
      const byTarget = await app.inject({ method: 'GET', url: `${V}/vens?targetType=GROUP&targetValues=pilot`, headers: venClient.headers });
      assert.deepEqual(byTarget.json().map((x: { id: string }) => x.id), [venID]);
      const other = await app.inject({ method: 'GET', url: `${V}/vens?targetType=GROUP&targetValues=other`, headers: venClient.headers });
      assert.deepEqual(other.json(), []);
      const del = await app.inject({ method: 'DELETE', url: `${V}/vens/${venID}`, headers: venClient.headers });
      assert.equal(del.statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: `${V}/vens/${venID}/resources/${r.json().id}`, headers: venClient.headers })).statusCode, 404);
    });

    it('subscriptions: a private callback target is refused by default; callbacks are queued with the change and delivered with the bearer token', async () => {
      const bl = await openadrBearer(app, db, 'bl');
      const prog = (await app.inject({ method: 'POST', url: `${V}/programs`, headers: bl.headers, payload: { programName: 'subscribed' } })).json();
      const strict = await buildApp({ db, logger, cache: memoryCache() });
      const refused = await strict.inject({ method: 'POST', url: `${V}/subscriptions`, headers: bl.headers,
        payload: { clientName: 'ven-1', programID: prog.id, objectOperations: [{ objects: ['EVENT'], operations: ['CREATE'], callbackUrl: 'http://169.254.169.254/latest' }] } });
      await strict.close();
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json().field, 'objectOperations/0/callbackUrl');
      const sub = await app.inject({ method: 'POST', url: `${V}/subscriptions`, headers: bl.headers,
        payload: { clientName: 'ven-1', programID: prog.id, objectOperations: [{ objects: ['EVENT'], operations: ['CREATE', 'UPDATE'], callbackUrl: hook.url, bearerToken: 'tok-123' }] } });
      assert.equal(sub.statusCode, 201, sub.body);
      const ev = await app.inject({ method: 'POST', url: `${V}/events`, headers: bl.headers, payload: priceEvent(prog.id, '2030-03-01T00:00:00Z', [0.2]) });
      assert.equal(ev.statusCode, 201);
      const sent = await deliverDue({ db, logger }, { ...DEFAULT_OUTBOX, policy: { allowPrivate: true } });
      assert.equal(sent.delivered, 1);
      assert.equal(hook.got.length, 1);
      assert.equal(hook.got[0]!.headers.authorization, 'Bearer tok-123');
      const note = JSON.parse(hook.got[0]!.body);
      assert.equal(note.objectType, 'EVENT');
      assert.equal(note.operation, 'POST');
      assert.equal(note.object.id, ev.json().id);
    });

    it('a PRICE event created through the VTN becomes the device\'s hourly override ($/kWh → $/MWh), by target and priority', async () => {
      const bl = await openadrBearer(app, db, 'bl');
      const prog = (await app.inject({ method: 'POST', url: `${V}/programs`, headers: bl.headers, payload: { programName: 'overrides' } })).json();
      const start = '2031-05-01T10:00:00Z';
      const post = async (body: Record<string, unknown>) => {
        const r = await app.inject({ method: 'POST', url: `${V}/events`, headers: bl.headers, payload: body });
        assert.equal(r.statusCode, 201, r.body);
        return r.json().id as string;
      };
      const all = await post(priceEvent(prog.id, start, [0.1, 0.3, 0.05]));
      const forPjm = await post({ ...priceEvent(prog.id, '2031-05-01T11:00:00Z', [0.9], { priority: 0, targets: [{ type: 'BALANCING_AUTHORITY', values: ['PJM'] }] }) });
      await post({ programID: prog.id, targets: [{ type: 'RESOURCE_NAME', values: ['dev-b'] }], payloadDescriptors: [{ payloadType: 'DISPATCH_SETPOINT', units: 'KW' }],
        intervalPeriod: { start, duration: 'PT2H' }, intervals: [{ id: 0, payloads: [{ type: 'DISPATCH_SETPOINT', values: [-3] }] }] });
      const from = new Date('2031-05-01T09:00:00Z');
      const to = new Date('2031-05-01T14:00:00Z');
      const a = await activeEventOverrides(db, { deviceId: 'dev-a', ba: 'CISO' }, from, to);
      assert.deepEqual(a.map((o) => [o.hour, Math.round(o.priceUsdPerMwh!)]), [['2031-05-01T10:00:00.000Z', 100], ['2031-05-01T11:00:00.000Z', 300], ['2031-05-01T12:00:00.000Z', 50]]);
      assert.ok(a.every((o) => o.setpointKw === undefined && o.eventIds.includes(all)));
      const b = await activeEventOverrides(db, { deviceId: 'dev-b', ba: 'PJM' }, from, to);
      assert.equal(b.find((o) => o.hour === '2031-05-01T11:00:00.000Z')!.priceUsdPerMwh, 900, 'priority 0 wins over the untargeted event');
      assert.ok(b.find((o) => o.hour === '2031-05-01T11:00:00.000Z')!.eventIds.includes(forPjm));
      assert.deepEqual(b.filter((o) => o.setpointKw !== undefined).map((o) => [o.hour, o.setpointKw]), [['2031-05-01T10:00:00.000Z', -3], ['2031-05-01T11:00:00.000Z', -3]]);
      assert.deepEqual(await activeEventOverrides(db, { deviceId: 'dev-a' }, new Date('2031-06-01T00:00:00Z'), new Date('2031-06-02T00:00:00Z')), []);
    });

    it('two events of one priority changed in the same millisecond: the greater id wins, whatever order the rows come in', async () => {
      const bl = await openadrBearer(app, db, 'bl');
      const prog = (await app.inject({ method: 'POST', url: `${V}/programs`, headers: bl.headers, payload: { programName: 'tied' } })).json();
      const start = '2032-02-01T10:00:00Z';
      const ids: string[] = [];
      for (const price of [0.2, 0.4]) {
        const r = await app.inject({ method: 'POST', url: `${V}/events`, headers: bl.headers, payload: priceEvent(prog.id, start, [price]) });
        assert.equal(r.statusCode, 201, r.body);
        ids.push(r.json().id as string);
      }
      const [low, high] = [...ids].sort();
      const price = (id: string) => (id === ids[0] ? 200 : 400);
      // each of the two rows rewritten last in turn (an update writes a new row version after the others): both
      // physical orders of the tied rows, so an answer that follows the rows' order fails one of them
      for (const last of [low!, high!]) {
        for (const id of last === low ? [high!, low!] : [low!, high!]) {
          await db.query(`UPDATE openadr_objects SET modified_at = '2032-01-01T00:00:00Z' WHERE id = $1`, [id]);
        }
        for (const settings of [[], ['SET LOCAL enable_indexscan = off', 'SET LOCAL enable_bitmapscan = off']]) {
          const o = await db.transaction(async (tx) => {
            for (const set of settings) await tx.query(set);
            return activeEventOverrides(tx, { deviceId: 'dev-t' }, new Date(start), new Date('2032-02-01T11:00:00Z'));
          });
          const how = `rewritten last: ${last === low ? 'the lower id' : 'the greater id'}, ${settings.join(', ') || 'the default plan'}`;
          assert.equal(Math.round(o[0]!.priceUsdPerMwh!), price(high!), `the event with the greater id wins (${how})`);
          assert.deepEqual(o[0]!.eventIds, [low, high], `applied in id order (${how})`);
        }
      }
    });
  });
}
