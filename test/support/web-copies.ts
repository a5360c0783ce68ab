import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { openDb, type Db } from '../../src/platform/db.ts';
import { migrate } from '../../src/platform/migrate.ts';
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
