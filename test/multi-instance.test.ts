import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from './support/pg-cluster.ts';
import { GridpulseProcess, gridpulseEnv } from './support/gridpulse-process.ts';
import { servicesTest, sharedSchema, startWebCopy, type WebCopy } from './support/web-copies.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether GET /api/v1/live at `base` delivers an `event` frame within `ms` (resolves at the first one: 1, else 0). */
async function hear(base: string, event: string, ms: number): Promise<number> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  let n = 0;
  try {
    const res = await fetch(`${base}/api/v1/live`, { signal: abort.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
      n = text.split(`event: ${event}`).length - 1;
      if (n > 0) { abort.abort(); break; }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally { clearTimeout(timer); }
  return n;
}

describe('2 web + 2 worker processes on one PostgreSQL and Redis', servicesTest(), () => {
  let schema: Awaited<ReturnType<typeof sharedSchema>>;
  const webs: WebCopy[] = [];
  const workers: Array<{ proc: GridpulseProcess; metricsPort: number }> = [];
  let listening: Array<Promise<number>> = [];

  before(async () => {
    schema = await sharedSchema();
    const env = { DATABASE_URL: schema.url, REDIS_URL: (process.env.TEST_REDIS_URL ?? process.env.REDIS_URL)!, HISTORY_DAYS: '1', LOG_LEVEL: 'info' };
    for (let i = 0; i < 2; i++) webs.push(await startWebCopy({ ...env, RATE_LIMITS: 'off' }));
    // live streams open on both web copies before the workers write their first hours
    listening = webs.map((w) => hear(w.base, 'hours', 90_000));
    await sleep(500);
    for (let i = 0; i < 2; i++) {
      const metricsPort = await freePort();
      const proc = new GridpulseProcess(['worker'], gridpulseEnv({
        ...env, METRICS_PORT: String(metricsPort), HOST: '127.0.0.1',
        INGEST_CRON: '*/3 * * * * *', DAILY_CRON: '*/3 * * * * *', FORECAST_CRON: '0 0 1 1 *',
      }), process.cwd());
      workers.push({ proc, metricsPort });
    }
  });
  after(async () => {
    for (const w of workers) { w.proc.kill('SIGTERM'); await Promise.race([w.proc.exited, sleep(10_000)]); w.proc.kill('SIGKILL'); }
    for (const w of webs) await w.stop();
    await schema?.drop();
  });

  it('no scheduled occurrence runs twice across the workers; both workers are ready; SSE reaches clients of both web copies', async () => {
    // each worker's first pass (run at start, not scheduled), then scheduled ticks every 3 s
    for (const w of workers) await w.proc.waitFor('the first pass', (l) => l.msg === 'job finished' && l.job === 'hourly-ingest' && l.tick === undefined, 60_000);
    await sleep(12_000);
    const heard = await Promise.all(listening);
    const runs = workers.flatMap((w, i) => w.proc.lines.filter((l) => l.msg === 'job finished' && typeof l.tick === 'string').map((l) => ({ worker: i, job: String(l.job), tick: String(l.tick), outcome: String(l.outcome) })));
    const byOccurrence = new Map<string, string[]>();
    for (const r of runs) byOccurrence.set(`${r.job} ${r.tick}`, [...(byOccurrence.get(`${r.job} ${r.tick}`) ?? []), r.outcome]);
    assert.ok(byOccurrence.size >= 4, `scheduled occurrences seen: ${[...byOccurrence.keys()].join(', ')}`);
    // never twice; none when the previous occurrence still held the job's lock (a run longer than the interval)
    for (const [occurrence, outcomes] of byOccurrence) {
      assert.ok(outcomes.filter((o) => o !== 'skipped').length <= 1, `${occurrence} ran more than once: ${outcomes.join(', ')}`);
    }
    const ran = [...byOccurrence.values()].filter((o) => o.some((x) => x !== 'skipped')).length;
    assert.ok(ran >= 3, `occurrences run: ${ran} of ${byOccurrence.size}`);
    // both copies took a share of the occurrences (neither is idle), and the store agrees: one claim per occurrence
    assert.equal(new Set(runs.filter((r) => r.outcome !== 'skipped').map((r) => r.worker)).size, 2, 'both workers ran some occurrences');
    const [claims] = await schema.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM job_ticks`);
    assert.ok(claims!.n >= byOccurrence.size);
    for (const w of workers) {
      const res = await fetch(`http://127.0.0.1:${w.metricsPort}/readyz`);
      assert.equal(res.status, 200);
      assert.equal((await res.json() as { role: string }).role, 'worker');
    }
    // workers write, PostgreSQL NOTIFY carries it to every web copy's live stream
    assert.ok(heard.every((n) => n >= 1), `hours events heard by each web copy: ${heard.join(', ')}`);
  });
});
