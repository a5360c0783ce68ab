import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../src/app.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import { dropBenchSchema, envInt, fmt, openBenchSchema, printTable } from './support.ts';

const SCHEMA = 'bench_http';
const AUTOCANNON = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));

export interface Cannon { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number; timeouts: number }

/** autocannon in its own process, so that the load generator does not share the server's event loop. */
export async function cannon(url: string, connections: number, seconds: number): Promise<Cannon> {
  const { stdout } = await promisify(execFile)(process.execPath, [AUTOCANNON, '-c', String(connections), '-d', String(seconds), '-j', url], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as Cannon;
}

export const best = (a: Cannon | undefined, b: Cannon) => (a && a.requests.average >= b.requests.average ? a : b);

export function checked(name: string, r: Cannon): Cannon {
  if (r.non2xx || r.errors || r.timeouts) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  return r;
}

/**
 * Throughput and tail latency of cached analytics endpoints at 100 connections, each against a
 * bare Fastify route that returns the same JSON document (same size, serialised on every request).
 * The store holds 48 simulated hours of every active BA; the endpoints' cache is the in-process one.
 */
export async function benchHttp(): Promise<void> {
  const seconds = envInt('BENCH_HTTP_SECONDS', 10);
  const connections = envInt('BENCH_HTTP_CONNECTIONS', 100);
  const rounds = envInt('BENCH_HTTP_ROUNDS', 2);
  const paths = (process.env.BENCH_HTTP_PATHS ?? '/api/v1/bas/CISO/now,/api/v1/now').split(',');
  const db = await openBenchSchema(SCHEMA, { fresh: true });
  const logger = pino({ level: 'warn' });
  let app: FastifyInstance | undefined;
  const bare = Fastify({ logger: false });
  try {
    const bas = await listBas(db);
    const from = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 48 * 3_600_000);
    await loadSimulatedGrid({ db, logger }, bas, from, 48);
    app = await buildApp({ db, logger, cache: memoryCache() });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const documents: { path: string; bytes: number }[] = [];
    for (const [i, path] of paths.entries()) {
      const res = await fetch(base + path);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${text.slice(0, 200)}`);
      const document: unknown = JSON.parse(text);
      bare.get(`/bare/${i}`, async () => document);
      documents.push({ path, bytes: text.length });
    }
    const bareBase = await bare.listen({ port: 0, host: '127.0.0.1' });
    const rows: string[][] = [];
    for (const [i, { path, bytes }] of documents.entries()) {
      await cannon(`${bareBase}/bare/${i}`, connections, 2); // warm both servers' JIT
      await cannon(base + path, connections, 2);
      let ref: Cannon | undefined;
      let work: Cannon | undefined;
      // alternating rounds, best of each: other processes on the two cores steal whole seconds
      for (let round = 0; round < rounds; round++) {
        ref = best(ref, checked('bare', await cannon(`${bareBase}/bare/${i}`, connections, seconds)));
        work = best(work, checked(path, await cannon(base + path, connections, seconds)));
      }
      if (!ref || !work) throw new Error('BENCH_HTTP_ROUNDS must be at least 1');
      rows.push([`GridPulse ${path} (${fmt(bytes)} B, cached)`, fmt(work.requests.average), fmt(work.latency.p50), fmt(work.latency.p99), fmt(work.requests.average / ref.requests.average, 2), 'ratio ≥ 0.5, p99 < 10 ms'],
        ['bare Fastify route, same document', fmt(ref.requests.average), fmt(ref.latency.p50), fmt(ref.latency.p99), '1.00', '']);
    }
    printTable(`HTTP at ${connections} connections, best of ${rounds} alternating ${seconds}-s rounds (autocannon in its own process; in-process cache, log level warn)`,
      ['server', 'req/s', 'p50 ms', 'p99 ms', 'ratio (req/s vs bare)', 'target'], rows);
  } finally {
    await app?.close();
    await bare.close();
    await dropBenchSchema(db, SCHEMA);
    await db.close();
  }
}
