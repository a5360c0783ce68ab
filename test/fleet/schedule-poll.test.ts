import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../support/databases.ts';
import { openFleetApp, provision, type FleetTestApp } from './fleet-support.ts';
import { revokeApiKey } from '../../src/auth/api-keys.ts';

/** GET /api/v1/devices/{id}/schedule through the real routes (inject): long polls, If-None-Match, revocation. */
for (const target of testDatabases()) {
  describe(`the device's schedule poll on ${target.name}`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target); });
    after(async () => { await t.app.close(); await t.db.close(); });

    const issue = (deviceId: string) => t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
      payload: { deviceId, intervals: [{ start: t.clock.at(5), end: t.clock.at(35), action: 'idle' }] } });
    const poll = (d: { id: string; headers: Record<string, string> }, query = '', ifNoneMatch?: string) =>
      t.app.inject({ url: `/api/v1/devices/${d.id}/schedule${query}`, headers: { ...d.headers, ...(ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch }) } });

    it('holds a request of a device without any version for the wait, and answers 200 when a first version is issued meanwhile', async () => {
      const d = await provision(t, { id: 'pi-poll-first' });
      let started = Date.now();
      const held = await poll(d, '?wait=1');
      assert.equal(held.statusCode, 204);
      assert.equal(held.headers.etag, '"v0"');
      assert.ok(Date.now() - started >= 900, `held for the wait (${Date.now() - started} ms), not answered at once`);

      started = Date.now();
      const waiting = poll(d, '?wait=20');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await issue(d.id)).statusCode, 201);
      const woke = await waiting;
      assert.equal(woke.statusCode, 200, woke.body);
      assert.equal(woke.json<{ version: number }>().version, 1);
      assert.equal(woke.headers.etag, '"v1"');
      assert.ok(Date.now() - started < 10_000, 'woken by the first version, not by the end of the wait');

      const quick = Date.now();
      assert.equal((await poll(d, '', '"v0"')).statusCode, 200, 'the version exists now: "v0" no longer matches');
      assert.equal((await poll(d)).statusCode, 200, 'without wait nothing is held');
      assert.ok(Date.now() - quick < 2_000);
    });

    it('honours If-None-Match: strong, weak, lists and *, on 304 and in the long poll', async () => {
      const d = await provision(t, { id: 'pi-poll-etag' });
      const none = await poll(d, '', '*');
      assert.equal(none.statusCode, 204, '* matches no representation while no version exists');
      assert.equal((await poll(d, '', '"v0"')).statusCode, 304, 'the "v0" of no version matches itself');
      await issue(d.id);
      await issue(d.id);
      for (const [header, status] of [
        ['"v2"', 304], ['W/"v2"', 304], ['"v1", W/"v2"', 304], ['W/"v1" , "v2"', 304], ['*', 304],
        ['"v1"', 200], ['W/"v1"', 200], ['"v1", "v3"', 200], ['"v20"', 200], ['v2', 200],
      ] as const) {
        const res = await poll(d, '', header);
        assert.equal(res.statusCode, status, `If-None-Match: ${header}`);
        assert.equal(res.headers.etag, '"v2"', header);
      }
      const started = Date.now();
      const held = await poll(d, '?wait=1', 'W/"v2"');
      assert.equal(held.statusCode, 304);
      assert.ok(Date.now() - started >= 900, 'a weak tag of the current version holds the long poll');
      const waiting = poll(d, '?wait=20', 'W/"v2"');
      await new Promise((r) => setTimeout(r, 300));
      await issue(d.id);
      const woke = await waiting;
      assert.equal(woke.statusCode, 200);
      assert.equal(woke.headers.etag, '"v3"');
    });

    it('ends a waiting poll at once with 401 when the device is revoked, or its key alone', async () => {
      for (const how of ['device', 'key'] as const) {
        const d = await provision(t, { id: `pi-poll-revoked-${how}` });
        await issue(d.id);
        const started = Date.now();
        const waiting = poll(d, '?wait=25', '"v1"');
        await new Promise((r) => setTimeout(r, 300));
        if (how === 'device') {
          assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/v1/devices/${d.id}`, headers: t.operator })).statusCode, 204);
        } else {
          assert.equal(await revokeApiKey(t.db, /^gp_([0-9a-f]{12})_/.exec(d.apiKey)![1]!), true);
        }
        const res = await waiting;
        assert.equal(res.statusCode, 401, `${how}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /application\/problem\+json/);
        assert.match(String(res.headers['www-authenticate']), /Bearer .*invalid_token/);
        assert.equal(res.json<{ field: string }>().field, 'authorization');
        assert.ok(Date.now() - started < 5_000, `${how}: ended by the revocation (${Date.now() - started} ms), not by the wait`);
        const later = await poll(d, '?wait=25', '"v1"');
        assert.ok([401, 404].includes(later.statusCode), `${how}: a later poll is refused at once (${later.statusCode})`);
      }
    });
  });
}
