import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../src/app.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import { refreshForecasts } from '../src/analytics/forecast/forecast.ts';
import { hourlyIntensity } from '../src/analytics/intensity/intensity.ts';
import { runQualityChecks } from '../src/ingest/check-runner.ts';
import { startRun } from '../src/ingest/run-ledger.ts';
import { closeWorkerPool } from '../src/platform/off-loop.ts';
import { envInt, fmt, openEngineDb, printTable } from './support.ts';

const AUTOCANNON = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Cannon { requests: { average: number; total: number }; latency: { p50: number; p99: number; max: number }; non2xx: number; errors: number; timeouts: number }

/** autocannon in its own process, so that the load generator does not share the server's event loop. */
async function cannon(url: string, connections: number, seconds: number, allowTimeouts = false): Promise<Cannon> {
  const { stdout } = await promisify(execFile)(process.execPath, [AUTOCANNON, '-c', String(connections), '-d', String(seconds), '-j', url], { maxBuffer: 16 << 20 });
  const r = JSON.parse(stdout) as Cannon;
  // a reference that cannot keep up (requests past autocannon's 10-s timeout) is reported, not fatal
  if ((r.errors || r.timeouts) && !(allowTimeouts && r.errors === r.timeouts)) throw new Error(`${url}: ${r.errors} errors, ${r.timeouts} timeouts`);
  return r;
}

/** Runs `job(i)` again and again (i = 0, 1, …) until `during` settles; returns its result and each job run's duration. */
async function whileLooping<T>(job: (i: number) => Promise<unknown>, during: () => Promise<T>): Promise<{ result: T; jobMs: number[] }> {
  let stop = false;
  const jobMs: number[] = [];
  const loop = (async () => {
    for (let i = 0; !stop; i++) {
      const t0 = performance.now();
      await job(i);
      jobMs.push(performance.now() - t0); // the run in progress when the load stops is counted too
    }
  })();
  try {
    return { result: await during(), jobMs };
  } finally {
    stop = true;
    await loop;
  }
}

/**
 * `npm run bench -- offloop`: the web's throughput and tail latency on a cached route while each background job of
 * `gridpulse start` runs, against the same route with no job, in one process as `gridpulse start` runs them (the jobs
 * loop for the whole measurement: the first fill a week at a time into the past, the forecast refresh, and flow
 * tracing of CISO's interconnection over 28 days with the quality checks of 14 days). Then the BA page's SSR at 50
 * connections (served to anonymous visitors from the page cache, and rendered on every request with the cache off)
 * against a bare Fastify route sending the same bytes. PGlite in memory on its own worker thread (as `gridpulse start`
 * runs its data directory; BENCH_PGLITE_THREAD=main runs it on the main thread, as before issue 11 item 3), or
 * PostgreSQL with DATABASE_URL. Targets (issue 11): throughput ratio ≥ 0.5, p99 < 100 ms.
 */
export async function benchOffLoop(): Promise<void> {
  const seconds = envInt('BENCH_OFFLOOP_SECONDS', 10);
  const connections = envInt('BENCH_OFFLOOP_CONNECTIONS', 10);
  const ssrConnections = envInt('BENCH_SSR_CONNECTIONS', 50);
  // PGlite on its own worker thread, as `gridpulse start` opens its data directory; BENCH_PGLITE_THREAD=main for before
  const thread = process.env.BENCH_PGLITE_THREAD ?? 'worker';
  if (thread !== 'main' && thread !== 'worker') throw new Error(`BENCH_PGLITE_THREAD must be main or worker, got ${thread}`);
  const { db, drop } = await openEngineDb('bench_offloop', { pgliteThread: thread });
  const cache = memoryCache();
  const logger = pino({ level: 'warn' });
  let app: FastifyInstance | undefined;
  let uncached: FastifyInstance | undefined;
  const bare = Fastify({ logger: false });
  try {
    const bas = await listBas(db);
    const now = Math.floor(Date.now() / HOUR) * HOUR;
    // two days first, so the cached route has an answer; the rest of the first fill runs under load
    await loadSimulatedGrid({ db, logger }, bas, new Date(now - 2 * DAY), 48);
    app = await buildApp({ db, logger, cache });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const path = '/api/v1/bas/CISO/now';
    await cannon(base + path, connections, 2); // warm the JIT and the cache
    const idle = await cannon(base + path, connections, seconds);
    const rows: string[][] = [];
    const row = (name: string, r: Cannon, runs: string) => rows.push([name, fmt(r.requests.average), fmt(r.latency.p50), fmt(r.latency.p99), fmt(r.latency.max), fmt(r.requests.average / idle.requests.average, 2), runs]);
    row('no job', idle, '');
    let filledWeeks = 0;
    const fillWeek = async () => {
      const from = new Date(now - 2 * DAY - (filledWeeks + 1) * 7 * DAY);
      filledWeeks++;
      await loadSimulatedGrid({ db, logger }, bas, from, 7 * 24);
    };
    const jobs: Array<[string, (i: number) => Promise<unknown>]> = [
      ['first fill (simulated grid, a week of every BA per run)', fillWeek],
      ['forecast refresh (every BA)', () => refreshForecasts({ db, logger })],
      ['flow tracing CISO 28 d + quality checks 14 d', async () => {
        await hourlyIntensity(db, 'CISO', new Date(now - 28 * DAY), new Date(now), 'consumption', 'lifecycle');
        const runId = await startRun(db, 'daily', 'checks', {});
        await runQualityChecks({ db, logger }, { from: new Date(now - 14 * DAY), to: new Date(now), runId });
      }],
    ];
    for (const [name, job] of jobs) {
      const r = await whileLooping(job, () => cannon(base + path, connections, seconds));
      row(name, r.result, `${r.jobMs.length} runs, ${fmt(r.jobMs.reduce((a, b) => a + b, 0) / Math.max(1, r.jobMs.length) / 1000, 1)} s each`);
      // the forecasts need the whole four weeks
      while (filledWeeks < 4) await fillWeek();
    }
    printTable(`${path} (cached) at ${connections} connections for ${seconds} s while each job loops, ${db.kind}${db.kind === 'pglite' ? ` on the ${thread} thread` : ''}`,
      ['job', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'ratio (req/s vs no job)', 'job'], rows);

    const page = await fetch(`${base}/ba/CISO`);
    const html = await page.text();
    if (page.status !== 200) throw new Error(`/ba/CISO answered ${page.status}: run npm run build first`);
    bare.get('/bare', async (_req, reply) => reply.type('text/html; charset=utf-8').send(html));
    const bareBase = await bare.listen({ port: 0, host: '127.0.0.1' });
    await cannon(`${bareBase}/bare`, ssrConnections, 2);
    await cannon(`${base}/ba/CISO`, ssrConnections, 2);
    const ref = await cannon(`${bareBase}/bare`, ssrConnections, seconds);
    const ssr = await cannon(`${base}/ba/CISO`, ssrConnections, seconds);
    // the same page rendered on every request (the page cache off), in a second app on the same store
    uncached = await buildApp({ db, logger, cache, pageCache: false }); // same answers cache: only the page render differs
    const uncachedBase = await uncached.listen({ port: 0, host: '127.0.0.1' });
    await cannon(`${uncachedBase}/ba/CISO`, ssrConnections, 2, true);
    const render = await cannon(`${uncachedBase}/ba/CISO`, ssrConnections, seconds, true);
    const ssrRow = (name: string, r: Cannon) => [name, fmt(r.requests.average), fmt(r.latency.p50), fmt(r.latency.p99), fmt(r.requests.average / ref.requests.average, 2), fmt(r.timeouts)];
    printTable(`/ba/CISO SSR (${fmt(html.length / 1024, 1)} KB, warm caches) at ${ssrConnections} connections for ${seconds} s, ${db.kind}`,
      ['server', 'req/s', 'p50 ms', 'p99 ms', 'ratio (req/s vs bare)', 'timeouts (> 10 s)'],
      [ssrRow('GridPulse /ba/CISO, anonymous (page cache)', ssr), ssrRow('GridPulse /ba/CISO rendered every request (page cache off)', render),
        ssrRow('bare Fastify route, same bytes', ref)]);
  } finally {
    await app?.close();
    await uncached?.close();
    await bare.close();
    await closeWorkerPool();
    await drop();
    await db.close();
  }
}
