import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { openDb, type Db } from '../src/platform/db.ts';
import { processTargets, withDb, type ProcessTarget } from './support/process-targets.ts';
import { listBas } from '../src/grid/ba-repository.ts';
import { simulatedRoutes } from '../src/ingest/simulated-grid.ts';
import { FIRST_INTERRUPT, SAME_REQUEST_MS, SECOND_INTERRUPT } from '../src/platform/interrupts.ts';
import { GridpulseProcess, gridpulseEnv, type LogLine } from './support/gridpulse-process.ts';

const HOUR = 3_600_000;
/** A short intended span keeps the fill (and the test) short; the fill is still long enough to be cut. */
const HISTORY_DAYS = 2;
/** No scheduled run during the test: the only hourly cycle is the one each start runs at once. */
const NEVER = '0 0 1 1 *';

function start(dir: string, target: ProcessTarget): GridpulseProcess {
  return new GridpulseProcess(['start'], gridpulseEnv({
    DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'info', HISTORY_DAYS: String(HISTORY_DAYS),
    INGEST_CRON: NEVER, DAILY_CRON: NEVER, FORECAST_CRON: NEVER, ...target.env,
  }), dir);
}

const baStored = (atLeast: number) => (l: LogLine) => l.msg === 'simulated grid: BA stored' && Number(l.done) >= atLeast;
const hourlyFinished = (l: LogLine) => l.msg === 'job finished' && l.job === 'hourly-ingest';

/** BAs whose demand, fuel mix and BA-to-BA interchange (the inputs of both intensities) span every hour from the intended start. */
async function coverage(db: Db): Promise<{ intendedFrom: Date; lastHour: Date; expected: Map<string, Set<string>>; complete: string[]; incomplete: string[] }> {
  const [span] = await db.query<{ intended_from: Date | string }>(`SELECT intended_from FROM store_span WHERE source = 'simulated'`);
  assert.ok(span, 'the first start recorded the store\'s intended span');
  const intendedFrom = new Date(span.intended_from);
  const [newest] = await db.query<{ ts: Date | string }>(`SELECT max(o.ts) AS ts FROM observations o JOIN series s ON s.id = o.series_id WHERE s.source = 'simulated' AND s.type = 'net_generation'`);
  const lastHour = new Date(newest!.ts);
  const hours = (lastHour.getTime() - intendedFrom.getTime()) / HOUR + 1;
  const bas = await listBas(db);
  const expected = simulatedRoutes(bas, lastHour);
  const rows = await db.query<{ ba: string; kind: string; n: number }>(
    `SELECT s.ba_code AS ba, s.type AS kind, count(DISTINCT o.ts)::integer AS n
     FROM series s JOIN observations o ON o.series_id = s.id
     WHERE s.source = 'simulated' AND s.type IN ('demand', 'net_generation', 'generation_by_fuel', 'ba_interchange') AND o.ts BETWEEN $1 AND $2
     GROUP BY 1, 2`, [intendedFrom, lastHour]);
  const n = new Map(rows.map((r) => [`${r.ba}|${r.kind}`, r.n]));
  const complete: string[] = [];
  const incomplete: string[] = [];
  for (const ba of bas) {
    const routes = expected.get(ba.code);
    if (!routes) continue;
    const kinds = ['net_generation', 'generation_by_fuel', ...(ba.generationOnly ? [] : ['demand']), ...(routes.has('interchange') ? ['ba_interchange'] : [])];
    const short = kinds.filter((k) => (n.get(`${ba.code}|${k}`) ?? 0) !== hours);
    if (short.length) incomplete.push(`${ba.code} (${short.map((k) => `${k} ${n.get(`${ba.code}|${k}`) ?? 0}/${hours} h`).join(', ')})`);
    else complete.push(ba.code);
  }
  return { intendedFrom, lastHour, expected, complete, incomplete };
}

/** Restarts, lets the start's own hourly cycle run once, stops it (SIGTERM) and checks every active BA has its intended span. */
async function restartAndCheck(dir: string, target: ProcessTarget): Promise<void> {
  const again = start(dir, target);
  try {
    await again.waitFor('the restart\'s hourly cycle', hourlyFinished, 300_000);
  } finally {
    again.kill('SIGTERM');
    await again.exited;
  }
  assert.equal(again.lines.filter(hourlyFinished).length, 1, 'one hourly cycle');
  await withDb(target, async (db) => {
    const c = await coverage(db);
    assert.deepEqual(c.incomplete, [], 'every active BA has demand, fuel mix and interchange over the intended span');
    assert.equal(c.complete.length, c.expected.size);
    // the span the first start meant (HISTORY_DAYS back from its newest hour), not one recomputed at the restart
    const spanHours = (c.lastHour.getTime() - c.intendedFrom.getTime()) / HOUR;
    assert.ok(spanHours >= HISTORY_DAYS * 24 && spanHours <= HISTORY_DAYS * 24 + 2, `${spanHours} h`);
    const [running] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ingest_runs WHERE status = 'running'`);
    assert.equal(running!.n, 0, 'no run is left running');
  });
}

for (const t of processTargets('fill')) {
  describe(`a first fill killed and restarted (gridpulse start) on ${t.name}`, () => {
    let dir: string;
    let target: ProcessTarget;
    before(async () => { dir = mkdtempSync(path.join(tmpdir(), 'gp-fill-')); target = await t.make(dir); });
    after(async () => { await target.drop(); rmSync(dir, { recursive: true, force: true }); });

    it('completes every active BA\'s intended span within one hourly cycle of the restart, and closes the killed run at once', { timeout: 600_000 }, async () => {
      const first = start(dir, target);
      try {
        await first.waitFor('ten BAs stored', baStored(10), 300_000);
      } finally {
        first.kill('SIGKILL');
        await first.exited;
      }
      const killedRun = await withDb(target, async (db) => {
        const c = await coverage(db);
        assert.ok(c.incomplete.length > 0, `the kill came during the first fill (${c.complete.length} BAs complete)`);
        assert.ok(c.complete.length >= 5, `${c.complete.length} BAs were stored before the kill`);
        const [run] = await db.query<{ id: number; status: string }>(`SELECT id, status FROM ingest_runs WHERE kind = 'simulated' ORDER BY id LIMIT 1`);
        assert.equal(run!.status, 'running', 'the killed fill was left running');
        return run!.id;
      });
      await restartAndCheck(dir, target);
      await withDb(target, async (db) => {
        const [run] = await db.query<{ status: string; errors: string[]; finished: Date | string }>(`SELECT status, errors, finished_at AS finished FROM ingest_runs WHERE id = $1`, [killedRun]);
        assert.equal(run!.status, 'partial');
        assert.match(run!.errors.at(-1)!, /^interrupted: its process \d+ on .* is gone$/, 'closed by its dead owner, not a 15-minute-old heartbeat');
      });
    });
  });
}

describe('Ctrl-C during the first fill (gridpulse start, embedded store)', () => {
  const target: ProcessTarget = { name: 'pglite', env: {}, open: async () => { throw new Error('set per test'); }, drop: async () => {} };
  const dirs: string[] = [];
  const fresh = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gp-ctrlc-'));
    dirs.push(dir);
    return { dir, target: { ...target, open: () => openDb({ dataDir: dir }) } };
  };
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  it('says at once that it finishes the current batch, stops after it, and records the fill as partial', { timeout: 600_000 }, async () => {
    const { dir, target: tg } = fresh();
    const p = start(dir, tg);
    try {
      await p.waitFor('a BA stored', baStored(3), 300_000);
    } catch (err) { p.kill('SIGKILL'); throw err; }
    const sent = Date.now();
    p.kill('SIGINT');
    await p.waitStderr(new RegExp(FIRST_INTERRUPT.replace(/[().…]/g, '\\$&')), 3_000);
    const said = Date.now() - sent;
    const exit = await p.exited;
    const stopped = Date.now() - sent;
    assert.ok(said < 3_000, `the message came ${said} ms after Ctrl-C`);
    assert.deepEqual(exit, { code: 0, signal: null }, p.stderr);
    assert.ok(stopped < 30_000, `stopped ${stopped} ms after Ctrl-C`);
    assert.ok(p.lines.some((l) => l.msg === 'simulated fill stopped; the next start completes it'), 'the fill stopped between batches');
    await withDb(tg, async (db) => {
      const c = await coverage(db);
      assert.ok(c.incomplete.length > 0, 'it stopped before the fill was done');
      const runs = await db.query<{ status: string; errors: string[] }>(`SELECT status, errors FROM ingest_runs WHERE kind = 'simulated'`);
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.status, 'partial');
      assert.match(runs[0]!.errors[0]!, /^aborted after \d+\/\d+ BAs$/);
    });
  });

  it('stops at once on a second Ctrl-C, and the next start completes the intended span', { timeout: 600_000 }, async () => {
    const { dir, target: tg } = fresh();
    const p = start(dir, tg);
    try {
      await p.waitFor('a BA stored', baStored(3), 300_000);
    } catch (err) { p.kill('SIGKILL'); throw err; }
    // the second comes while the first is still finishing its batch (a batch takes longer than this), later than a
    // signal delivered twice at once, which is one request (interrupts.ts SAME_REQUEST_MS)
    p.kill('SIGINT');
    await setTimeout(SAME_REQUEST_MS + 30);
    const sent = Date.now();
    p.kill('SIGINT');
    const exit = await p.exited;
    assert.ok(Date.now() - sent < 5_000, 'the second Ctrl-C stops now');
    assert.deepEqual(exit, { code: 130, signal: null }, p.stderr);
    assert.ok(p.stderr.includes(FIRST_INTERRUPT) && p.stderr.indexOf(FIRST_INTERRUPT) < p.stderr.indexOf(SECOND_INTERRUPT), p.stderr);
    await restartAndCheck(dir, tg);
  });
});
