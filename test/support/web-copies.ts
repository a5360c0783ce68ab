import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { randomInt } from 'node:crypto';
import postgres from 'postgres';
import { openDb, type Db } from '../../src/platform/db.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { insertUser } from '../../src/auth/users.ts';
import type { UserRole } from '../../src/auth/principal.ts';
import { TcpProxy } from './tcp-proxy.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Options for node:test: tests of several processes need PostgreSQL and Redis (DATABASE_URL, REDIS_URL). They
 * skip without them outside CI; in CI (which starts both) a missing one fails the test instead.
 */
export function servicesTest(): { skip: string | false } {
  const missing = ['DATABASE_URL', 'REDIS_URL'].filter((v) => !(process.env[`TEST_${v}`] ?? process.env[v]));
  if (missing.length === 0) return { skip: false };
  if (process.env.CI) throw new Error(`${missing.join(' and ')} must be set in CI: several web processes share them`);
  return { skip: `needs ${missing.join(' and ')}` };
}

/** A fresh migrated schema on the test PostgreSQL, its URL (search_path set) for child processes, and its drop. */
export async function sharedSchema(): Promise<{ url: string; db: Db; drop: () => Promise<void> }> {
  const base = (process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL)!;
  const schema = `copies_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  const url = u.toString();
  const db = await openDb({ databaseUrl: url, dataDir: ':memory:' });
  await migrate(db); // once, before the copies start (each would race to apply them)
  return { url, db, drop: async () => { await db.query(`DROP SCHEMA ${schema} CASCADE`); await db.close(); } };
}

export interface WebCopy { base: string; child: ChildProcess; logs: string[]; stop: () => Promise<void> }

/** Starts `gridpulse web` on a free port with `env` added, and resolves once it listens. */
export async function startWebCopy(env: Record<string, string>): Promise<WebCopy> {
  const child = spawn(process.execPath, [MAIN, 'web'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gridpulse web did not listen within 60 s: ${stderr.slice(0, 500)}`)), 60_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`gridpulse web exited ${code}: ${stderr.slice(0, 500)}`)); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return { base, child, logs, stop };
}

/**
 * A TCP relay in front of the test Redis, so a test can make "Redis" die (`cut`: every connection dropped, new
 * ones refused) without touching the real server that other tests use. `url` keeps the target's database index.
 */
export async function redisRelay(target: string): Promise<{ url: string; cut: () => Promise<void> }> {
  const t = new URL(target);
  const proxy = new TcpProxy({ host: t.hostname, port: Number(t.port || 6379) });
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(await proxy.start());
  return { url: url.toString(), cut: () => proxy.stop() };
}

/** A client address of its own for each phase (198.18.0.0/15, for tests), sent through the copies' trusted proxy hop (TRUST_PROXY=127.0.0.1). */
export const clientIp = (): string => `198.18.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** A request to a copy as from client `ip` (X-Forwarded-For). */
export async function get(base: string, path: string, ip: string, init: RequestInit = {}): Promise<Response> {
  return fetch(base + path, { ...init, headers: { 'x-forwarded-for': ip, ...init.headers } });
}

/** `total` GETs spread round-robin over the copies, `concurrency` at a time; the status codes by copy. */
export async function load(copies: WebCopy[], path: string, ip: string, total: number, concurrency = 16): Promise<number[][]> {
  const codes: number[][] = copies.map(() => []);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++ % copies.length;
      const res = await get(copies[i]!.base, path, ip);
      await res.arrayBuffer();
      codes[i]!.push(res.status);
    }
  }));
  return codes;
}

export const count = (codes: number[], status: number): number => codes.filter((c) => c === status).length;

/** A new user of `role` signed in through `copy`'s login route from client `ip`: the access token's Authorization header. */
export async function signInAt(db: Db, copy: WebCopy, ip: string, role: UserRole, passwordHash: string, password: string): Promise<{ authorization: string }> {
  const email = `copies-${randomInt(1e9)}@example.org`;
  await insertUser(db, { email, role, passwordHash });
  const res = await get(copy.base, '/api/v1/auth/login', ip, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (res.status !== 200) throw new Error(`sign-in through ${copy.base} failed: ${res.status} ${await res.text()}`);
  return { authorization: `Bearer ${(await res.json() as { accessToken: string }).accessToken}` };
}
