import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { memoryCache } from '../platform/cache.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { API_KEYS_CHANNEL, ApiKeyVerifier, createApiKey, keyStateKey, LAST_USE_RESOLUTION_MS, listApiKeys, revokeApiKey } from './api-keys.ts';
import { parseKeyIds, subscribeApiKeyChanges } from './session-sync.ts';
import { publishSessionStates } from './sessions.ts';
import { insertUser } from './users.ts';
import { testDatabases } from '../../test/support/databases.ts';

const silent = pino({ level: 'silent' });

/** The database with every statement it runs recorded. */
function recording(db: Db): { db: Db; sql: string[] } {
  const sql: string[] = [];
  const proxy = new Proxy(db, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (prop === 'query') return (text: string, params?: unknown[]) => { sql.push(text); return target.query(text, params as never); };
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { db: proxy, sql };
}
const reads = (sql: string[]) => sql.filter((s) => s.includes('FROM api_keys k')).length;
const writes = (sql: string[]) => sql.filter((s) => s.includes('SET last_used_at')).length;

describe('API key change notices', () => {
  it('name key ids as a JSON array of 12 hex digits; anything else is refused', () => {
    assert.deepEqual(parseKeyIds('["0123456789ab"]'), ['0123456789ab']);
    for (const bad of ['', 'null', '[1]', '["auth:key:"]', '["0123456789abc"]', '[', '{"ids":[]}']) assert.equal(parseKeyIds(bad), undefined, bad);
  });
});

for (const target of testDatabases()) {
  describe(`API key state from the cache on ${target.name}`, () => {
    let raw: Db;
    before(async () => { raw = await target.open(); await migrate(raw); });
    after(async () => { await raw.close(); });

    it('reads a key once, then serves it from the cache; records a use at most once a minute (at once from a new IP)', async () => {
      const { db, sql } = recording(raw);
      let clock = Date.now();
      const v = new ApiKeyVerifier(db, memoryCache(), () => clock);
      try {
        const { key, token } = await createApiKey(raw, { kind: 'worker' });
        for (let i = 0; i < 20; i++) assert.equal((await v.verify(token, '192.0.2.1'))?.id, key.id);
        assert.equal(reads(sql), 1, 'one database read for 20 requests');
        assert.equal(writes(sql), 1, 'one last-use write for 20 requests');
        const usedAt = async () => (await listApiKeys(raw)).find((k) => k.id === key.id)!;
        assert.equal((await usedAt()).lastUsedIp, '192.0.2.1');
        await raw.query(`UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, [key.id]);
        const older = (await usedAt()).lastUsedAt!;
        clock += LAST_USE_RESOLUTION_MS - 1_000;
        await v.verify(token, '192.0.2.1');
        assert.equal((await usedAt()).lastUsedAt, older, 'within the minute: no write');
        clock += 2_000;
        await v.verify(token, '192.0.2.1');
        assert.ok(Date.parse((await usedAt()).lastUsedAt!) > Date.parse(older), 'a minute later the use is recorded');
        await v.verify(token, '192.0.2.9');
        assert.equal((await usedAt()).lastUsedIp, '192.0.2.9', 'a new address is recorded at once');
        // a cached key still checks the secret: the right id with another secret is refused
        const forged = `${token.slice(0, 16)}${token.at(16) === 'A' ? 'B' : 'A'}${token.slice(17)}`;
        assert.equal(await v.verify(forged, '192.0.2.1'), undefined);
      } finally { v.close(); }
    });

    it('refuses a key at the next request once it is revoked, expires, or its owner is disabled', async () => {
      let clock = Date.now();
      const cache = memoryCache();
      const v = new ApiKeyVerifier(raw, cache, () => clock);
      try {
        const revoked = await createApiKey(raw, { kind: 'worker' });
        assert.ok(await v.verify(revoked.token));
        assert.ok(await cache.get(keyStateKey(revoked.key.id)), 'cached');
        assert.equal(await revokeApiKey(raw, revoked.key.id), true);
        assert.equal(await v.verify(revoked.token), undefined, 'revoked: refused at once');

        const expiring = await createApiKey(raw, { kind: 'device', expiresAt: new Date(clock + 3_600_000) });
        assert.ok(await v.verify(expiring.token));
        clock += 3_600_000;
        assert.equal(await v.verify(expiring.token), undefined, 'expired: refused at once, from the cached state');

        const owner = await insertUser(raw, { email: `keys-${Math.random()}@example.org`, role: 'analyst', passwordHash: null });
        const personal = await createApiKey(raw, { kind: 'personal', owner: { id: owner.id, role: 'analyst' } });
        assert.equal((await v.verify(personal.token))?.ownerRole, 'analyst');
        await raw.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [owner.id]);
        await publishSessionStates({ db: raw, cache }, { userIds: [owner.id] });
        assert.equal(await v.verify(personal.token), undefined, 'owner disabled: refused at once');
      } finally { v.close(); }
    });

    it('drops a key from a copy\'s cache when another process announces a change (the CLI has only the database)', async () => {
      const cache = memoryCache(); // a cache of "another copy": not this process's verifier
      const unlisten = await subscribeApiKeyChanges(raw, cache, silent);
      try {
        const { key } = await createApiKey(raw, { kind: 'worker' });
        await cache.set(keyStateKey(key.id), { stale: true }, 60);
        await raw.query('SELECT pg_notify($1, $2)', [API_KEYS_CHANNEL, JSON.stringify([key.id])]);
        for (let i = 0; i < 100 && (await cache.get(keyStateKey(key.id))) !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(await cache.get(keyStateKey(key.id)), undefined);
      } finally { await unlisten(); }
    });
  });

  describe(`API keys across two apps with their own in-process caches on ${target.name}`, () => {
    let db: Db;
    let a: FastifyInstance;
    let b: FastifyInstance;
    before(async () => {
      db = await target.open();
      await migrate(db);
      const open = () => buildApp({ db, logger: silent, cache: memoryCache() });
      a = await open();
      b = await open();
    });
    after(async () => { await a.close(); await b.close(); await db.close(); });

    it('a key revoked as the CLI does (a transaction on the database) is refused by both apps at the next request', async () => {
      const { key, token } = await createApiKey(db, { kind: 'worker' });
      const headers = { authorization: `Bearer ${token}` };
      const url = '/api/v1/data/latest?series=CISO.demand';
      for (const app of [a, b]) assert.equal((await app.inject({ url, headers })).statusCode, 200, 'the key is cached');
      assert.equal(await db.transaction((tx) => revokeApiKey(tx, key.id)), true);
      for (const app of [b, a]) assert.equal((await app.inject({ url, headers })).statusCode, 401);
    });
  });
}
