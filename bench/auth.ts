import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../src/app.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import { hashPassword, verifyPassword, SCRYPT } from '../src/auth/password.ts';
import { insertUser } from '../src/auth/users.ts';
import { createApiKey } from '../src/auth/api-keys.ts';
import { dropBenchSchema, envInt, fmt, openBenchSchema, percentile, printTable } from './support.ts';

const SCHEMA = 'bench_auth';
const AUTOCANNON = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));

interface Cannon { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number; timeouts: number }

async function cannon(url: string, connections: number, seconds: number, headers: Record<string, string> = {}): Promise<Cannon> {
  const args = [AUTOCANNON, '-c', String(connections), '-d', String(seconds), '-j', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]), url];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 16 << 20 });
  const r = JSON.parse(stdout) as Cannon;
  if (r.non2xx || r.errors || r.timeouts) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  return r;
}

const best = (a: Cannon | undefined, b: Cannon) => (a && a.requests.average >= b.requests.average ? a : b);

/**
 * The cost of authentication: one cached analytics route (/api/v1/bas/CISO/now, in-process cache) at 100
 * connections, anonymous vs with a signed-in user's access JWT (signature check, memoised per token, plus
 * the session-state check from the cache on every request — the same work the hook does on a protected
 * route) vs with a worker API key (its state from the same cache, secret hash compared per request; last use
 * written at most once a minute). Then sign-in latency: p50/p95 of
 * POST /api/v1/auth/login one at a time and 4 at once, next to scrypt alone (which dominates).
 */
export async function benchAuth(): Promise<void> {
  const seconds = envInt('BENCH_AUTH_SECONDS', 8);
  const connections = envInt('BENCH_AUTH_CONNECTIONS', 100);
  const rounds = envInt('BENCH_AUTH_ROUNDS', 2);
  const logins = envInt('BENCH_AUTH_LOGINS', 40);
  const db = await openBenchSchema(SCHEMA, { fresh: true });
  const logger = pino({ level: 'warn' });
  let app: FastifyInstance | undefined;
  try {
    const bas = await listBas(db);
    await loadSimulatedGrid({ db, logger }, bas, new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 48 * 3_600_000), 48);
    app = await buildApp({ db, logger, cache: memoryCache() });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const password = 'bench passphrase of some length';
    const hash = await hashPassword(password);
    const users = await Promise.all(Array.from({ length: 4 }, (_, i) => insertUser(db, { email: `bench-${i}@example.org`, role: 'analyst', passwordHash: hash })));
    const login = async (email: string) => {
      const t0 = performance.now();
      const res = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
      if (res.status !== 200) throw new Error(`login ${res.status}: ${await res.text()}`);
      return { ms: performance.now() - t0, body: await res.json() as { accessToken: string } };
    };
    const { accessToken } = (await login(users[0]!.email)).body;
    const { token: workerKey } = await createApiKey(db, { kind: 'worker' });
    const url = `${base}/api/v1/bas/CISO/now`;
    const cases: Array<[string, Record<string, string>]> = [
      ['anonymous (public route, no credentials)', {}],
      ['signed-in user: Bearer access JWT', { authorization: `Bearer ${accessToken}` }],
      ['worker key: Bearer gp_…', { authorization: `Bearer ${workerKey}` }],
    ];
    for (const [, h] of cases) await cannon(url, connections, 2, h); // warm up
    const results = new Map<string, Cannon>();
    for (let round = 0; round < rounds; round++) {
      for (const [name, h] of cases) results.set(name, best(results.get(name), await cannon(url, connections, seconds, h)));
    }
    const anon = results.get(cases[0]![0])!;
    printTable(`Authentication cost on a cached route (${url.replace(base, '')}), ${connections} connections, best of ${rounds} alternating ${seconds}-s rounds`,
      ['caller', 'req/s', 'p50 ms', 'p99 ms', 'ratio vs anonymous', 'target'],
      cases.map(([name]) => { const r = results.get(name)!; return [name, fmt(r.requests.average), fmt(r.latency.p50), fmt(r.latency.p99), fmt(r.requests.average / anon.requests.average, 2), name.includes('JWT') ? '≥ 0.8' : '']; }));

    const seq: number[] = [];
    for (let i = 0; i < logins; i++) seq.push((await login(users[i % 4]!.email)).ms);
    const par: number[] = [];
    for (let i = 0; i < logins / 4; i++) par.push(...(await Promise.all(users.map((u) => login(u.email)))).map((r) => r.ms));
    const hashOnly: number[] = [];
    for (let i = 0; i < Math.min(logins, 20); i++) { const t0 = performance.now(); await verifyPassword(password, hash); hashOnly.push(performance.now() - t0); }
    printTable(`Sign-in latency (POST /api/v1/auth/login over HTTP; scrypt N=2^${SCRYPT.log2N}, r=${SCRYPT.r}, p=${SCRYPT.p}: 128 MiB per hash)`,
      ['what', 'n', 'p50 ms', 'p95 ms'],
      [['login, one at a time', seq.length, fmt(percentile(seq, 50)), fmt(percentile(seq, 95))],
        ['login, 4 at once', par.length, fmt(percentile(par, 50)), fmt(percentile(par, 95))],
        ['scrypt verify alone (in process)', hashOnly.length, fmt(percentile(hashOnly, 50)), fmt(percentile(hashOnly, 95))]]);
  } finally {
    await app?.close();
    await dropBenchSchema(db, SCHEMA);
    await db.close();
  }
}
