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

interface Cannon { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number; timeouts: number }

/** autocannon in its own process, so that the load generator does not share the server's event loop. */
async function cannon(url: string, connections: number, seconds: number): Promise<Cannon> {
  const { stdout } = await promisify(execFile)(process.execPath, [AUTOCANNON, '-c', String(connections), '-d', String(seconds), '-j', url], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as Cannon;
}

async function listen(app: FastifyInstance, path: string): Promise<string> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return address + path;
}

/**
 * Throughput and tail latency of a cached analytics endpoint at 100 connections against a bare
 * Fastify route that returns the same JSON document (same size, serialised on every request).
 * The store holds 48 simulated hours of every active BA; the endpoint's cache is the in-process one.
 */
export async function benchHttp(): Promise<void> {
  const seconds = envInt('BENCH_HTTP_SECONDS', 10);
  const connections = envInt('BENCH_HTTP_CONNECTIONS', 100);
  const path = process.env.BENCH_HTTP_PATH ?? '/api/v1/bas/CISO/now';
  const db = await openBenchSchema(SCHEMA, { fresh: true });
  const logger = pino({ level: 'warn' });
  let app: FastifyInstance | undefined;
  let bare: FastifyInstance | undefined;
  try {
    const bas = await listBas(db);
    const from = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 48 * 3_600_000);
    await loadSimulatedGrid({ db, logger }, bas, from, 48);
    app = await buildApp({ db, logger, cache: memoryCache() });
    const url = await listen(app, path);
    const first = await fetch(url);
    const text = await first.text();
    if (first.status !== 200) throw new Error(`${path} answered ${first.status}: ${text.slice(0, 200)}`);
    const document: unknown = JSON.parse(text);
    bare = Fastify({ logger: false });
    bare.get('/bare', async () => document);
    const bareUrl = await listen(bare, '/bare');

    await cannon(bareUrl, connections, 2); // warm both servers' JIT
    await cannon(url, connections, 2);
    const ref = await cannon(bareUrl, connections, seconds);
    const work = await cannon(url, connections, seconds);
    for (const [name, r] of [['bare', ref], [path, work]] as const) {
      if (r.non2xx || r.errors || r.timeouts) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
    }
    printTable(`HTTP at ${connections} connections for ${seconds} s (autocannon in its own process; ${fmt(text.length)} B JSON)`,
      ['server', 'req/s', 'p50 ms', 'p99 ms', 'ratio (req/s vs bare)', 'target'], [
        [`GridPulse ${path} (cached, memory cache, log level warn)`, fmt(work.requests.average), fmt(work.latency.p50), fmt(work.latency.p99), fmt(work.requests.average / ref.requests.average, 2), 'ratio ≥ 0.5, p99 < 10 ms'],
        ['bare Fastify route returning the same document', fmt(ref.requests.average), fmt(ref.latency.p50), fmt(ref.latency.p99), '1.00', ''],
      ]);
  } finally {
    await app?.close();
    await bare?.close();
    await dropBenchSchema(db, SCHEMA);
    await db.close();
  }
}
