import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { pino } from 'pino';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../app.ts';
import { memoryCache } from '../platform/cache.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { loadConfig } from '../platform/config.ts';
import { injectApi } from '../web/server.ts';
import { createApiKey } from './api-keys.ts';
import { limitClassOf, type RateLimitSettings } from './rate-limits.ts';
import { testDatabases } from '../../test/support/databases.ts';
import { signIn } from '../../test/support/auth.ts';

const silent = pino({ level: 'silent' });
const redisUrl = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;
const namespace = () => `gptest:rl:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
const limits = (over: Partial<RateLimitSettings> = {}): RateLimitSettings => ({
  read: { max: 5, windowMs: 60_000 }, write: { max: 3, windowMs: 60_000 }, auth: { max: 2, windowMs: 60_000 }, ...over,
});

const remaining = (res: LightMyRequestResponse) => Number(res.headers['ratelimit-remaining']);

async function appWith(db: Db, rateLimits: RateLimitSettings, trustProxy?: string[]): Promise<FastifyInstance> {
  return buildApp({ db, logger: silent, cache: memoryCache(), rateLimits, trustProxy });
}

/** A TCP port where a Redis was: connections are refused (closed) or accepted and never answered (hung). */
async function deadRedis(kind: 'closed' | 'hung'): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => { sockets.add(s); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `redis://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (kind === 'closed') await new Promise<void>((resolve) => server.close(() => resolve()));
  return { url, close: async () => { for (const s of sockets) s.destroy(); if (kind === 'hung') await new Promise<void>((resolve) => server.close(() => resolve())); } };
}

describe('rate limit configuration', () => {
  it('reads N/window for each budget, TRUST_PROXY as IPs and CIDRs, and names a bad value', () => {
    const c = loadConfig({ RATE_LIMIT_READ: '50/10s', RATE_LIMIT_WRITE: '7/m', RATE_LIMIT_AUTH: '3/2h', TRUST_PROXY: '10.0.0.0/8, ::1,loopback' });
    assert.deepEqual([c.RATE_LIMIT_READ, c.RATE_LIMIT_WRITE, c.RATE_LIMIT_AUTH], [{ max: 50, windowMs: 10_000 }, { max: 7, windowMs: 60_000 }, { max: 3, windowMs: 7_200_000 }]);
    assert.deepEqual(c.TRUST_PROXY, ['10.0.0.0/8', '::1', 'loopback']);
    const d = loadConfig({});
    assert.equal(d.RATE_LIMITS, 'on');
    assert.deepEqual(d.TRUST_PROXY, []);
    assert.ok(d.RATE_LIMIT_READ.max > d.RATE_LIMIT_WRITE.max && d.RATE_LIMIT_WRITE.max > d.RATE_LIMIT_AUTH.max, 'reads are the most generous, sign-in the tightest');
    for (const [env, name] of [[{ RATE_LIMIT_READ: '0/1m' }, 'RATE_LIMIT_READ'], [{ RATE_LIMIT_WRITE: '10/0s' }, 'RATE_LIMIT_WRITE'], [{ RATE_LIMIT_AUTH: 'ten' }, 'RATE_LIMIT_AUTH'],
      [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'], [{ TRUST_PROXY: 'proxy.lan' }, 'TRUST_PROXY'], [{ RATE_LIMITS: 'maybe' }, 'RATE_LIMITS']] as const) {
      assert.throws(() => loadConfig(env), new RegExp(`^Error: invalid configuration: ${name}`));
    }
  });

  it('spends reads on GET/HEAD/OPTIONS, writes on other methods, and the auth budget on /api/v1/auth/*', () => {
    assert.equal(limitClassOf('GET', '/api/v1/bas'), 'read');
    assert.equal(limitClassOf('HEAD', '/'), 'read');
    assert.equal(limitClassOf('POST', '/api/v1/data/observations'), 'write');
    assert.equal(limitClassOf('DELETE', '/api/v1/me/keys/1'), 'write');
    assert.equal(limitClassOf('POST', '/api/v1/auth/login'), 'auth');
    assert.equal(limitClassOf('GET', '/api/v1/auth/anything?x=1'), 'auth');
  });
});

const stores: Array<{ name: string; settings: () => Partial<RateLimitSettings> }> = [{ name: 'in-process', settings: () => ({}) }];
if (redisUrl) stores.push({ name: 'Redis', settings: () => ({ redisUrl, namespace: namespace() }) });

for (const target of testDatabases()) {
  describe(`rate limits on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    for (const store of stores) {
      it(`${store.name}: refuses the request past the limit with 429 problem+json, Retry-After and RateLimit headers, per client address`, async () => {
        const app = await appWith(db, limits(store.settings()));
        try {
          const get = (ip: string) => app.inject({ url: '/api/v1/bas', remoteAddress: ip });
          const seen: number[] = [];
          for (let i = 0; i < 5; i++) {
            const res = await get('198.51.100.10');
            assert.equal(res.statusCode, 200);
            assert.equal(res.headers['ratelimit-limit'], '5');
            seen.push(remaining(res));
          }
          assert.deepEqual(seen, [4, 3, 2, 1, 0]);
          const refused = await get('198.51.100.10');
          assert.equal(refused.statusCode, 429);
          assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
          const retryAfter = Number(refused.headers['retry-after']);
          assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${refused.headers['retry-after']}`);
          assert.equal(refused.headers['ratelimit-remaining'], '0');
          const body = refused.json<{ status: number; title: string; detail: string }>();
          assert.equal(body.status, 429);
          assert.equal(body.title, 'Too Many Requests');
          assert.match(body.detail, /at most 5 per 1 min from this address; retry in \d+ s/);
          assert.equal((await get('198.51.100.11')).statusCode, 200, 'another address has its own budget');
          assert.equal((await get('2001:db8:1:2::7')).statusCode, 200);
          for (let i = 0; i < 4; i++) await get(`2001:db8:1:2::${i + 100}`);
          assert.equal((await get('2001:db8:1:2:ffff::1')).statusCode, 429, 'an IPv6 client is counted by its /64');
          const metrics = await app.inject({ url: '/metrics' });
          assert.match(metrics.body, /gridpulse_rate_limited_total\{class="read"\} [1-9]/);
        } finally {
          await app.close();
        }
      });
    }

    it('keeps separate budgets for reads, writes and sign-in; a key spends its own budget wherever it comes from', async () => {
      const app = await appWith(db, limits({ write: { max: 3, windowMs: 60_000 } }));
      try {
        const [mark] = await db.query<{ id: number | string | null }>('SELECT max(id) AS id FROM audit_log');
        const since = Number(mark?.id ?? 0);
        const { token } = await createApiKey(db, { kind: 'worker', name: 'limits' });
        const post = (ip: string) => app.inject({ method: 'POST', url: '/api/v1/data/observations', remoteAddress: ip, headers: { authorization: `Bearer ${token}` }, payload: { rows: [] } });
        const codes = [];
        for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']) codes.push((await post(ip)).statusCode);
        assert.equal(codes.slice(0, 3).every((c) => c !== 429), true, `first three admitted: ${codes.join(',')}`);
        assert.equal(codes[3], 429, 'the fourth write with the same key is refused, from a new address too');
        // the throttling is audited once per budget window, not once per refused request (a fresh tester found none)
        const limitedRows = async () => (await db.query<{ action: string; detail: { budget: string } }>(`SELECT action, detail FROM audit_log WHERE action = 'rate.limited' AND id > $1`, [since]));
        for (let i = 0; i < 100 && (await limitedRows()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
        assert.equal((await post('192.0.2.5')).statusCode, 429);
        const rows = await limitedRows();
        assert.equal(rows.length, 1, `one audit record for the key's throttled writes: ${JSON.stringify(rows)}`);
        assert.equal(rows[0]!.detail.budget, 'write', 'the jsonb detail arrives as an object');
        const { token: other } = await createApiKey(db, { kind: 'worker', name: 'limits-2' });
        const res = await app.inject({ method: 'POST', url: '/api/v1/data/observations', remoteAddress: '192.0.2.4', headers: { authorization: `Bearer ${other}` }, payload: { rows: [] } });
        assert.notEqual(res.statusCode, 429, 'another key behind the same address has its own budget');
        assert.equal((await app.inject({ url: '/api/v1/bas', remoteAddress: '192.0.2.4' })).statusCode, 200, 'reads are a separate budget');
        const auth = [];
        for (let i = 0; i < 3; i++) auth.push((await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '192.0.2.9', payload: {} })).statusCode);
        assert.notEqual(auth[1], 429);
        assert.equal(auth[2], 429, 'sign-in calls have the tightest budget, per address');
      } finally {
        await app.close();
      }
    });

    it('keys a signed-in user\'s requests on the user, from any address, and two users behind one address apart', async () => {
      const app = await appWith(db, limits({ read: { max: 3, windowMs: 60_000 }, auth: { max: 10, windowMs: 60_000 } }));
      try {
        const [ann, bob] = [await signIn(app, db, 'analyst'), await signIn(app, db, 'analyst')];
        const me = (who: { headers: { authorization: string } }, ip: string) => app.inject({ url: '/api/v1/me', remoteAddress: ip, headers: who.headers });
        const annCodes = [];
        for (const ip of ['192.0.2.21', '192.0.2.22', '192.0.2.23', '192.0.2.24']) annCodes.push((await me(ann, ip)).statusCode);
        assert.deepEqual(annCodes, [200, 200, 200, 429], 'one budget for the user wherever she signs in from');
        assert.equal((await me(bob, '192.0.2.24')).statusCode, 200, 'another user behind the same address has his own');
        assert.equal((await app.inject({ url: '/api/v1/bas', remoteAddress: '192.0.2.24' })).statusCode, 200, 'and so has the address itself, anonymous');
      } finally {
        await app.close();
      }
    });

    it('spends the address\'s budget of refused credentials on refused tokens anywhere, then answers its refused credentials 429 (audited once), while valid ones, sign-in and refresh still pass', async () => {
      const app = await appWith(db, limits({ read: { max: 100, windowMs: 60_000 }, auth: { max: 3, windowMs: 60_000 } }));
      try {
        const valid = await signIn(app, db, 'admin');
        const audits = async () => Number((await db.query<{ n: number | string }>('SELECT count(*) AS n FROM audit_log'))[0]!.n);
        const ip = '192.0.2.31';
        const guess = (token: string) => app.inject({ url: '/api/v1/me', remoteAddress: ip, headers: { authorization: `Bearer ${token}` } });
        const codes = [];
        for (let i = 0; i < 3; i++) codes.push((await guess(`gp_${'0'.repeat(12)}_${'x'.repeat(42)}${i}`)).statusCode);
        assert.deepEqual(codes, [401, 401, 401]);
        const before = await audits();
        const refused = await guess('not-a-token');
        assert.equal(refused.statusCode, 429);
        assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
        assert.ok(Number(refused.headers['retry-after']) >= 1);
        assert.equal(refused.json<{ field: string }>().field, 'authorization');
        assert.equal(await audits(), before + 1, 'the throttling is audited');
        const [rec] = await db.query<{ action: string; outcome: string }>(`SELECT action, outcome FROM audit_log ORDER BY id DESC LIMIT 1`);
        assert.deepEqual({ ...rec }, { action: 'auth.throttled', outcome: 'denied' });
        assert.equal((await guess('still-not-a-token')).statusCode, 429);
        assert.equal(await audits(), before + 1, 'further guesses past the budget cost no audit record');
        // a fresh tester's finding: an admin behind the same address (a shared NAT) was locked out too
        const admin = await app.inject({ url: '/api/v1/admin/audit', remoteAddress: ip, headers: valid.headers });
        assert.equal(admin.statusCode, 200, 'valid credentials from the address still pass');
        // a fresh tester's finding (issue 12, 3): the refused tokens used up the sign-in budget of everyone at the address
        const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: ip, payload: { email: valid.email, password: valid.password } });
        assert.equal(login.statusCode, 200, `a valid sign-in from the address passes: ${login.body}`);
        const refresh = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', remoteAddress: ip, payload: { refreshToken: login.json<{ refreshToken: string }>().refreshToken } });
        assert.equal(refresh.statusCode, 200, `a valid refresh from the address passes: ${refresh.body}`);
        assert.equal((await app.inject({ url: '/api/v1/bas', remoteAddress: ip })).statusCode, 200, 'anonymous reads from the address go on');
        assert.equal((await app.inject({ url: '/api/v1/me', remoteAddress: '192.0.2.32', headers: { authorization: 'Bearer not-a-token' } })).statusCode, 401, 'another address is not affected');
      } finally {
        await app.close();
      }
    });

    it('24 refused bearer tokens leave a valid sign-in and refresh from the address alone; 60 refused passwords from one address are still throttled', async () => {
      const app = await appWith(db, limits({ read: { max: 1_000, windowMs: 60_000 }, auth: { max: 10, windowMs: 60_000 } }));
      try {
        const user = await signIn(app, db, 'analyst');
        const ip = '192.0.2.41';
        const codes = [];
        for (let i = 0; i < 24; i++) codes.push((await app.inject({ url: '/api/v1/me/views', remoteAddress: ip, headers: { authorization: `Bearer gp_${'0'.repeat(12)}_x${i}` } })).statusCode);
        assert.deepEqual([codes[0], codes.at(-1)], [401, 429], 'refused tokens are cheaply throttled');
        const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: ip, payload: { email: user.email, password: user.password } });
        assert.equal(login.statusCode, 200, login.body);
        const refresh = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', remoteAddress: ip, payload: { refreshToken: login.json<{ refreshToken: string }>().refreshToken } });
        assert.equal(refresh.statusCode, 200, refresh.body);
        const spray = '192.0.2.42';
        const guesses = [];
        for (let i = 0; i < 60; i++) guesses.push((await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: spray, payload: { email: `nobody${i}@example.org`, password: `wrong-password-${i}` } })).statusCode);
        assert.equal(guesses.filter((c) => c === 401).length <= 10, true, 'at most the sign-in budget of passwords is checked');
        assert.equal(guesses.at(-1), 429, 'password guessing from the address is throttled');
        const blocked = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: spray, payload: { email: user.email, password: user.password } });
        assert.equal(blocked.statusCode, 429, 'the address that guessed passwords has spent its sign-in budget');
      } finally {
        await app.close();
      }
    });

    it('ignores X-Forwarded-For without TRUST_PROXY: a client cannot pick its own key (property)', async () => {
      const app = await appWith(db, limits({ read: { max: 1_000, windowMs: 60_000 } }));
      try {
        let expected = 1_000;
        const spoof = fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 40 }).filter((s) => /^[\x21-\x7e ]*$/.test(s)));
        await fc.assert(fc.asyncProperty(fc.array(spoof, { minLength: 1, maxLength: 4 }), async (chain) => {
          const res = await app.inject({ url: '/api/v1/bas', remoteAddress: '203.0.113.50', headers: { 'x-forwarded-for': chain.join(', ') } });
          expected--;
          return res.statusCode === 200 && remaining(res) === expected;
        }), { numRuns: 60 });
      } finally {
        await app.close();
      }
    });

    it('honours X-Forwarded-For from a TRUST_PROXY peer only, taking the address the proxy saw', async () => {
      const app = await appWith(db, limits({ read: { max: 2, windowMs: 60_000 } }), ['10.0.0.0/8']);
      try {
        const via = (peer: string, xff: string) => app.inject({ url: '/api/v1/bas', remoteAddress: peer, headers: { 'x-forwarded-for': xff } });
        assert.equal((await via('10.1.2.3', '198.51.100.1')).statusCode, 200);
        assert.equal((await via('10.9.9.9', '198.51.100.1')).statusCode, 200, 'the same client through another proxy copy');
        assert.equal((await via('10.1.2.3', '198.51.100.1')).statusCode, 429, 'the client behind the proxy has spent its budget');
        assert.equal((await via('10.1.2.3', '198.51.100.2')).statusCode, 200, 'another client behind the same proxy has its own');
        // A client prepends a forged address; the proxy appends the one it saw: the rightmost untrusted one counts.
        assert.equal((await via('10.1.2.3', '198.51.100.77, 198.51.100.1')).statusCode, 429);
        // A peer that is not a trusted proxy is its own address, whatever it claims.
        assert.equal((await via('203.0.113.9', '198.51.100.3')).statusCode, 200);
        assert.equal((await via('203.0.113.9', '198.51.100.4')).statusCode, 200);
        assert.equal((await via('203.0.113.9', '198.51.100.5')).statusCode, 429, 'spoofed X-Forwarded-For from an untrusted peer does not change the key');
      } finally {
        await app.close();
      }
    });

    it('never limits /healthz, /readyz and /metrics, nor counts them: a probe from a busy client\'s address answers', async () => {
      const app = await appWith(db, limits({ read: { max: 2, windowMs: 60_000 } }));
      try {
        const get = (url: string, ip: string) => app.inject({ url, remoteAddress: ip });
        for (let i = 0; i < 2; i++) assert.equal((await get('/api/v1/bas', '198.51.100.30')).statusCode, 200);
        assert.equal((await get('/api/v1/bas', '198.51.100.30')).statusCode, 429, 'the address has spent its reads');
        for (const url of ['/healthz', '/readyz', '/metrics', '/healthz?verbose=1']) {
          for (let i = 0; i < 3; i++) assert.equal((await get(url, '198.51.100.30')).statusCode, 200, `${url} from the throttled address`);
        }
        // probes spend nothing: another address probes often, then still has its two reads
        for (let i = 0; i < 5; i++) for (const url of ['/healthz', '/readyz', '/metrics']) await get(url, '198.51.100.31');
        for (let i = 0; i < 2; i++) assert.equal((await get('/api/v1/bas', '198.51.100.31')).statusCode, 200);
        // an exact path only: a look-alike is an unknown path and spends the budget like one
        assert.equal((await get('/metricsx', '198.51.100.30')).statusCode, 429);
      } finally {
        await app.close();
      }
    });

    it('does not count the pages\' in-process API calls, and a forged internal header is just a header', async () => {
      const app = await appWith(db, limits({ read: { max: 2, windowMs: 60_000 } }));
      try {
        const api = injectApi(app);
        for (let i = 0; i < 6; i++) assert.equal((await api('/api/v1/bas')).ok, true);
        const forged = { 'x-gridpulse-internal': 'x'.repeat(32) };
        const codes = [];
        for (let i = 0; i < 3; i++) codes.push((await app.inject({ url: '/api/v1/bas', headers: forged })).statusCode);
        assert.deepEqual(codes, [200, 200, 429]);
      } finally {
        await app.close();
      }
    });

    for (const kind of ['closed', 'hung'] as const) {
      it(`keeps limiting per process, without 5xx or waiting, when Redis is ${kind === 'closed' ? 'down' : 'hung'}`, async () => {
        const redis = await deadRedis(kind);
        const app = await appWith(db, limits({ redisUrl: redis.url, namespace: namespace() }));
        try {
          const codes: number[] = [];
          const t0 = performance.now();
          for (let i = 0; i < 7; i++) codes.push((await app.inject({ url: '/api/v1/bas', remoteAddress: '198.51.100.20' })).statusCode);
          const ms = performance.now() - t0;
          assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429]);
          assert.ok(ms < 2_000, `7 requests took ${ms.toFixed(0)} ms: a dead Redis must not be waited on per request`);
          assert.match((await app.inject({ url: '/metrics' })).body, /gridpulse_rate_limit_fallbacks_total [1-9]/);
        } finally {
          await app.close();
          await redis.close();
        }
      });
    }
  });
}

for (const target of testDatabases()) {
  describe(`rate-limit headers across origins on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => { db = await target.open(); await migrate(db); app = await appWith(db, limits({ read: { max: 2, windowMs: 60_000 } })); });
    after(async () => { await app.close(); await db.close(); });

    it('lets cross-origin scripts read RateLimit-* on public answers and Retry-After on the 429', async () => {
      const origin = 'https://dashboard.example.net';
      const exposed = (res: LightMyRequestResponse) => String(res.headers['access-control-expose-headers'] ?? '').toLowerCase().split(/,\s*/);
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await app.inject({ url: '/api/v1/bas', headers: { origin }, remoteAddress: '198.51.100.40' });
        codes.push(res.statusCode);
        assert.equal(res.headers['access-control-allow-origin'], '*', `answer ${i}`);
        for (const h of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) {
          assert.ok(res.headers[h] !== undefined, `${h} sent`);
          assert.ok(exposed(res).includes(h), `${h} exposed on answer ${i}: ${exposed(res).join()}`);
        }
        if (res.statusCode === 429) {
          assert.ok(Number(res.headers['retry-after']) > 0);
          assert.ok(exposed(res).includes('retry-after'), 'Retry-After exposed on the 429');
        }
      }
      assert.deepEqual(codes, [200, 200, 429]);
      // keyed and state-changing routes stay closed to other origins: nothing exposed there
      const keyed = await app.inject({ url: '/api/v1/data/latest?series=CISO.demand', headers: { origin }, remoteAddress: '198.51.100.41' });
      assert.equal(keyed.headers['access-control-allow-origin'], undefined);
      assert.equal(keyed.headers['access-control-expose-headers'], undefined);
    });
  });
}

describe('rate limits during a Redis outage', { skip: redisUrl || process.env.CI ? false : 'needs REDIS_URL (under CI=true it fails without): the outage is cut in a TCP proxy in front of it' }, () => {
  it('tell the outage once when it starts and once when Redis answers again, counting every fall back, never a line per request', { timeout: 60_000 }, async () => {
    const [{ Writable }, { TcpProxy }, { openDb }] = await Promise.all([import('node:stream'), import('../../test/support/tcp-proxy.ts'), import('../platform/db.ts')]);
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, done) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string }); done(); } }));
    const target = new URL(redisUrl!);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const proxied = new URL(redisUrl!);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(await proxy.start());
    const db = await openDb({ dataDir: ':memory:' });
    await migrate(db);
    const app = await buildApp({ db, logger, cache: memoryCache(), rateLimits: limits({ read: { max: 1000, windowMs: 60_000 }, redisUrl: proxied.toString(), namespace: namespace(), redisRetryMs: 20 }) });
    const redisLines = () => lines.filter((l) => l.msg.startsWith('rate limits: Redis')).map((l) => l.msg);
    const get = async () => (await app.inject({ url: '/api/v1/bas', remoteAddress: '198.51.100.30' })).statusCode;
    try {
      assert.equal(await get(), 200);
      proxy.mode = 'reset';
      proxy.cut();
      for (let i = 0; i < 10; i++) { assert.equal(await get(), 200); await new Promise((r) => setTimeout(r, 30)); }
      assert.deepEqual(redisLines(), ['rate limits: Redis failed; counting per process until it is back'], 'one line for the outage');
      const fallbacks = /gridpulse_rate_limit_fallbacks_total (\d+)/.exec((await app.inject({ url: '/metrics' })).body);
      assert.ok(Number(fallbacks?.[1]) >= 5, `each fall back counted: ${fallbacks?.[0]}`);
      proxy.mode = 'pass';
      const deadline = Date.now() + 20_000;
      while (redisLines().length < 2 && Date.now() < deadline) { await get(); await new Promise((r) => setTimeout(r, 100)); }
      assert.deepEqual(redisLines(), ['rate limits: Redis failed; counting per process until it is back', 'rate limits: Redis answers again; counting shared']);
    } finally {
      await app.close();
      await db.close();
      await proxy.stop();
    }
  });
});
