import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { loadAverage, percentile } from './support.ts';
import { startSite } from '../test/browser/support/site.ts';

/**
 * `npm run bench:web`: server-rendered page latency with warm analytics caches (sequential requests on one
 * keep-alive connection, PGlite in memory, a simulated grid of 4 BAs × 14 days) and the gzip size of every
 * JavaScript file a BA page loads, including the chart library it imports after hydration. Each page is set
 * beside a bare Fastify route that sends the same HTML string in the same run: the ratio is what rendering
 * (React SSR of cached data) costs over just sending the bytes.
 */
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);

async function latency(url: string, n: number): Promise<{ p50: number; p95: number; p99: number; bytes: number }> {
  let bytes = 0;
  for (let i = 0; i < 20; i++) await (await fetch(url)).arrayBuffer(); // warm caches and JIT
  const sample: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    bytes = (await res.arrayBuffer()).byteLength;
    sample.push(performance.now() - t0);
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  }
  return { p50: percentile(sample, 50), p95: percentile(sample, 95), p99: percentile(sample, 99), bytes };
}

/** Every JS file reachable from the page's module scripts and preloads, following static and dynamic imports. */
async function pageScripts(base: string, path: string): Promise<Map<string, { raw: number; gzip: number }>> {
  const html = await (await fetch(base + path)).text();
  const queue = [...html.matchAll(/(?:href|src)="(\/assets\/[^"]+\.js)"|from "(\/assets\/[^"]+\.js)"|import\("(\/assets\/[^"]+\.js)"\)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  const seen = new Map<string, { raw: number; gzip: number }>();
  while (queue.length) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    const body = Buffer.from(await (await fetch(base + file)).arrayBuffer());
    seen.set(file, { raw: body.length, gzip: gzipSync(body).length });
    for (const m of body.toString('utf8').matchAll(/(?:from\s*|import\s*\(?\s*)["'`](\.\/[^"'`]+\.js)["'`]/g)) queue.push(new URL(m[1]!, base + file).pathname);
  }
  return seen;
}

const site = await startSite({ days: 14 });
const bare = Fastify({ logger: false });
try {
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  const pages = [['BA page /ba/CISO (SSR)', '/ba/CISO'], ['Home / (SSR, 73 BAs)', '/'], ['API /api/v1/bas/CISO/now (cached JSON)', '/api/v1/bas/CISO/now']] as const;
  for (const [i, [, path]] of pages.entries()) {
    const res = await fetch(site.url + path);
    const body = await res.text();
    const type = res.headers.get('content-type') ?? 'text/html';
    bare.get(`/bare/${i}`, async (_req, reply) => reply.type(type).send(body));
  }
  const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
  const rows: string[] = [];
  for (const [i, [label, path]] of pages.entries()) {
    const r = await latency(site.url + path, REQUESTS);
    const ref = await latency(`${bareUrl}/bare/${i}`, REQUESTS);
    rows.push(`| ${label} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.p99)} | ${(r.bytes / 1024).toFixed(1)} KB | ${ms(ref.p50)} / ${ms(ref.p95)} | ${(r.p50 / ref.p50).toFixed(1)}× |`);
  }
  const scripts = await pageScripts(site.url, '/ba/CISO');
  const total = [...scripts.values()].reduce((a, s) => ({ raw: a.raw + s.raw, gzip: a.gzip + s.gzip }), { raw: 0, gzip: 0 });
  console.log(`\n## Web (${new Date().toISOString().slice(0, 10)}, ${REQUESTS} sequential requests after 20 warm-up, PGlite in memory, 4 simulated BAs × 14 days, ${loadAverage()})\n`);
  console.log('| page | p50 | p95 | p99 | size | bare Fastify, same bytes: p50 / p95 | p50 ratio |\n|---|---|---|---|---|---|---|');
  console.log(rows.join('\n'));
  console.log(`\nJavaScript a BA page loads: ${scripts.size} files, ${(total.raw / 1024).toFixed(1)} KB raw, **${(total.gzip / 1024).toFixed(1)} KB gzip** (aim ≤ 150 KB)\n`);
  console.log('| file | raw | gzip |\n|---|---|---|');
  for (const [file, s] of [...scripts].sort((a, b) => b[1].gzip - a[1].gzip)) console.log(`| ${file.replace(/^\/assets\//, '')} | ${(s.raw / 1024).toFixed(1)} KB | ${(s.gzip / 1024).toFixed(1)} KB |`);
} finally {
  await bare.close();
  await site.close();
}
