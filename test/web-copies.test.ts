import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import type { Db } from '../src/platform/db.ts';
import { createApiKey, revokeApiKey } from '../src/auth/api-keys.ts';
import { hashPassword } from '../src/auth/password.ts';
import { clientIp, count, get, load, redisRelay, servicesTest, sharedSchema, signInAt, startWebCopy, type WebCopy } from './support/web-copies.ts';

const READ_LIMIT = 100;
const WINDOW = '30s';

describe('two gridpulse web copies on one PostgreSQL and one Redis', servicesTest(), () => {
  let schema: { url: string; db: Db; drop: () => Promise<void> };
  let relay: Awaited<ReturnType<typeof redisRelay>>;
  let shared: WebCopy[] = [];
  let alone: WebCopy[] = [];
  const password = `pw-${randomInt(1e12)}-copies`;
  let passwordHash: string;

  before(async () => {
    schema = await sharedSchema();
    passwordHash = await hashPassword(password);
    relay = await redisRelay((process.env.TEST_REDIS_URL ?? process.env.REDIS_URL)!);
    const env = { DATABASE_URL: schema.url, TRUST_PROXY: '127.0.0.1', RATE_LIMIT_READ: `${READ_LIMIT}/${WINDOW}` };
    // two copies sharing Redis, and two without it (each counting alone) to show what sharing changes
    [shared, alone] = await Promise.all([
      Promise.all([startWebCopy({ ...env, REDIS_URL: relay.url }), startWebCopy({ ...env, REDIS_URL: relay.url })]),
      Promise.all([startWebCopy(env), startWebCopy(env)]),
    ]);
  });
  after(async () => {
    await Promise.all([...shared, ...alone].map((c) => c.stop()));
    await relay?.cut();
    await schema?.drop();
  });

  it(`admits at most the limit × 1.05 in a window with the load spread over both copies (${READ_LIMIT}/${WINDOW})`, async () => {
    const codes = await load(shared, '/api/v1/bas', clientIp(), 4 * READ_LIMIT);
    const all = codes.flat();
    assert.equal(all.length - count(all, 200) - count(all, 429), 0, `only 200 and 429: ${[...new Set(all)].join(',')}`);
    const admitted = count(all, 200);
    const fellBack = shared.flatMap((c) => c.logs.filter((l) => l.includes('rate limits: Redis')));
    assert.ok(admitted <= READ_LIMIT * 1.05, `admitted ${admitted} > ${READ_LIMIT} × 1.05 ${fellBack.join('\n')}`);
    assert.ok(admitted >= READ_LIMIT, `admitted ${admitted} < ${READ_LIMIT}: the limit must not refuse what it allows`);
    assert.ok(codes.every((c) => count(c, 200) > 0 && count(c, 429) > 0), 'both copies admitted and refused');
    const refused = await get(shared[1]!.base, '/api/v1/bas', clientIp());
    assert.equal(refused.status, 200, 'another client is unaffected');

    // Without Redis each copy counts alone: the same load gets through twice (what the shared store prevents).
    const separate = count((await load(alone, '/api/v1/bas', clientIp(), 4 * READ_LIMIT)).flat(), 200);
    assert.equal(separate, 2 * READ_LIMIT);
  });

  it('a write through one copy reaches the other: its live stream hears it and its cached answers are dropped', async () => {
    const [a, b] = shared as [WebCopy, WebCopy];
    const ip = clientIp();
    const { token } = await createApiKey(schema.db, { kind: 'worker', name: 'copies' });
    const hour = new Date(Date.UTC(2025, randomInt(0, 12), randomInt(1, 28), randomInt(0, 24))).toISOString();
    const newest = async () => {
      const res = await get(b.base, '/api/v1/bas/CISO/freshness', ip);
      assert.equal(res.status, 200);
      return (await res.json() as { series: Array<{ key: string; newest: string | null }> }).series.find((s) => s.key === 'CISO.demand')?.newest ?? null;
    };
    assert.notEqual(await newest(), hour, 'copy B has the answer cached, without the hour');

    const abort = new AbortController();
    const live = await get(b.base, '/api/v1/live?ba=CISO', ip, { signal: abort.signal });
    assert.equal(live.status, 200);
    const heard = (async () => {
      const reader = live.body!.getReader();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += Buffer.from(value).toString();
        if (text.includes('event: hours')) return text;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the stream's LISTEN is in place
    const post = await get(a.base, '/api/v1/data/observations', ip, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ rows: [{ ba: 'CISO', type: 'demand', ts: hour, value: 25_000 }] }),
    });
    assert.equal(post.status, 200, await post.clone().text());
    const timeout = setTimeout(() => abort.abort(), 10_000);
    const stream = await heard;
    clearTimeout(timeout);
    abort.abort();
    assert.match(stream, /event: hours\ndata: \{"bas":\["CISO"\]/, 'copy B\'s live stream heard copy A\'s write');
    let seen: string | null = null;
    for (let i = 0; i < 20 && seen !== hour; i++) {
      seen = await newest();
      if (seen !== hour) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(seen, hour, 'copy B answers with the new hour, not its cached answer (60 s TTL)');
  });

  it('signing out through one copy ends the sign-in on the other at once, with Redis and without it', async () => {
    for (const [name, [a, b]] of [['sharing Redis', shared], ['each with its own cache', alone]] as const) {
      const ip = clientIp();
      const auth = await signInAt(schema.db, a!, ip, 'analyst', passwordHash, password);
      assert.equal((await get(b!.base, '/api/v1/me', ip, { headers: auth })).status, 200, `${name}: the token works on the other copy`);
      const out = await get(a!.base, '/api/v1/auth/logout', ip, { method: 'POST', headers: auth });
      assert.equal(out.status, 204);
      let status = 0;
      for (let i = 0; i < 20 && status !== 401; i++) { // the other copy hears of it within a moment (NOTIFY), not after its cache's 60 s
        status = (await get(b!.base, '/api/v1/me', ip, { headers: auth })).status;
        if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(status, 401, `${name}: the signed-out token is refused by the other copy`);
    }
  });

  it('a key revoked as the CLI does (on the database alone) is refused by every copy within a moment, with Redis and without it', async () => {
    const { key, token } = await createApiKey(schema.db, { kind: 'worker', name: 'revoked-across-copies' });
    const copies = [...shared, ...alone];
    const path = '/api/v1/data/latest?series=CISO.demand';
    const ip = clientIp();
    const status = async (c: WebCopy) => { const res = await get(c.base, path, ip, { headers: { authorization: `Bearer ${token}` } }); await res.arrayBuffer(); return res.status; };
    for (const c of copies) assert.equal(await status(c), 200, 'each copy has the key state cached');
    assert.equal(await revokeApiKey(schema.db, key.id), true); // this process runs no app: only the NOTIFY reaches the copies
    const codes: number[] = [];
    for (const c of copies) {
      let code = 0;
      for (let i = 0; i < 20 && code !== 401; i++) { // within a moment (NOTIFY), not after the cached state's 60 s
        code = await status(c);
        if (code !== 401) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      codes.push(code);
    }
    assert.deepEqual(codes, copies.map(() => 401));
  });

  it('when Redis dies, GETs keep answering without 5xx, and each copy keeps limiting on its own', async () => {
    const ip = clientIp();
    const auth = await signInAt(schema.db, shared[0]!, ip, 'analyst', passwordHash, password);
    assert.equal((await get(shared[1]!.base, '/api/v1/me', ip, { headers: auth })).status, 200);
    await relay.cut();
    for (const copy of shared) assert.equal((await get(copy.base, '/api/v1/me', ip, { headers: auth })).status, 200, 'a signed-in GET with Redis down');
    assert.equal((await get(shared[0]!.base, '/api/v1/auth/logout', ip, { method: 'POST', headers: auth })).status, 204, 'signing out with Redis down');
    assert.equal((await get(shared[1]!.base, '/api/v1/me', ip, { headers: auth })).status, 401, 'and the other copy refuses the token');
    const paths = ['/api/v1/bas', '/api/v1/bas/CISO/freshness', '/api/v1/now', '/api/v1/bas/CISO/now', '/healthz', '/readyz'];
    const slowest: number[] = [];
    for (const copy of shared) {
      for (const path of paths) {
        const t0 = performance.now();
        const res = await get(copy.base, path, ip);
        await res.arrayBuffer();
        slowest.push(performance.now() - t0);
        assert.ok(res.status < 500, `${path} answered ${res.status} with Redis down`);
      }
    }
    assert.ok(Math.max(...slowest) < 5_000, `slowest answer ${Math.max(...slowest).toFixed(0)} ms with Redis down`);
    const codes = (await load([shared[0]!], '/api/v1/bas', clientIp(), READ_LIMIT + 20)).flat();
    assert.equal(count(codes, 200), READ_LIMIT, 'the copy counts on its own: the limit holds per copy');
    assert.equal(count(codes, 429), 20);
    const metrics = await (await get(shared[0]!.base, '/metrics', ip)).text();
    assert.match(metrics, /gridpulse_rate_limit_fallbacks_total [1-9]/);
  });
});
