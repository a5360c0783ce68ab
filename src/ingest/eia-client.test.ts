import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { FakeEia, regionRows } from '../../test/support/fake-eia-server.ts';
import { Metrics } from '../platform/metrics.ts';
import fc from 'fast-check';
import { checkRead, EiaClient, EiaError, IncompleteReadError, type EiaClientOptions, type ReadPage } from './eia-client.ts';
import type { EiaPoint } from './eia-schema.ts';

const logger = pino({ level: 'silent' });
const range = { bas: ['CISO'], from: new Date('2025-07-01T00:00Z'), to: new Date('2025-07-01T23:00Z') };

async function drain(client: EiaClient, signal?: AbortSignal): Promise<number> {
  let n = 0;
  for await (const page of client.fetch('region', range, signal ? { signal } : {})) n += page.length;
  return n;
}

async function sample(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want));
  return v?.value ?? 0;
}

const point = (i: number): EiaPoint => ({ route: 'region', ba: 'CISO', code: 'D', ts: new Date(Date.UTC(2025, 6, 1) + i * 3_600_000), value: i });
/** `total` announced on every page, pages cut at `cuts` from the rows `ids`. */
const pagesOf = (ids: number[], cuts: number[], total = ids.length): ReadPage[] => {
  const bounds = [0, ...cuts, ids.length];
  return bounds.slice(1).map((end, i) => ({ total, points: ids.slice(bounds[i], end).map(point) }));
};

describe('checkRead: do the pages of one read add up?', () => {
  it('names each way pages can disagree', () => {
    assert.equal(checkRead(pagesOf([0, 1, 2, 3, 4, 5], [3])), undefined);
    assert.equal(checkRead(pagesOf([0, 1, 1, 2], [3])), undefined, 'a key repeated inside one page is the store\'s business, not a paging fault');
    assert.equal(checkRead(pagesOf([0, 1, 2, 1, 2, 3], [3])), 'pages overlap: 2 rows repeat keys of earlier pages (4 distinct rows of total 6)');
    assert.equal(checkRead(pagesOf([0, 1, 2, 3, 4], [3], 6)), '5 rows received of total 6');
    assert.equal(checkRead([{ total: 6, points: [0, 1, 2].map(point) }, { total: 7, points: [3, 4, 5].map(point) }]), 'total changed between pages (6 → 7)');
    assert.equal(checkRead([]), 'no page received');
  });

  it('any paging of distinct rows adds up; dropping a row, or repeating one on a later page, never does', () => {
    const arb = fc.integer({ min: 2, max: 60 }).chain((n) => fc.record({
      n: fc.constant(n),
      cuts: fc.uniqueArray(fc.integer({ min: 1, max: n - 1 }), { maxLength: 5 }).map((c) => c.sort((a, b) => a - b)),
      pick: fc.integer({ min: 0, max: n - 1 }),
    }));
    fc.assert(fc.property(arb, ({ n, cuts, pick }) => {
      const ids = Array.from({ length: n }, (_, i) => i);
      assert.equal(checkRead(pagesOf(ids, cuts)), undefined);
      assert.notEqual(checkRead(pagesOf(ids.filter((i) => i !== pick), cuts.filter((c) => c < n - 1), n)), undefined);
      if (cuts.length) {
        // the first row of the last page replaced by a row of an earlier page: the count still adds up, the keys do not
        const last = cuts.at(-1)!;
        const overlapping = ids.map((i) => (i === last ? pick % last : i));
        assert.match(checkRead(pagesOf(overlapping, cuts)) ?? '', /pages overlap: 1 rows repeat/);
      }
    }));
  });
});

describe('EiaClient against the fake EIA server', () => {
  const eia = new FakeEia();
  let baseUrl: string;
  const client = (o: Partial<EiaClientOptions> = {}) => new EiaClient({ baseUrl, apiKey: 'secret-key-123', logger, minIntervalMs: 0, timeoutMs: 5_000, retries: 2, ...o });

  before(async () => {
    baseUrl = await eia.start();
    eia.rows.region = regionRows('CISO', new Date('2025-07-01T01:00Z'), 24, (h) => String(20000 + h));
  });
  after(() => eia.stop());
  beforeEach(() => { eia.faults = []; eia.always = 'ok'; eia.requests = []; });

  it('re-reads a read whose pages overlapped once, and yields every row once', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const c = client({ pageSize: 50, readRetryDelayMs: 0, metrics });
    eia.faults = ['ok', 'overlap'];
    assert.equal(await drain(c), 96);
    assert.equal(eia.requests.length, 4, 'two pages, twice');
    assert.deepEqual([c.stats.incompleteReads, c.stats.retries, c.stats.rows], [1, 1, 96]);
    assert.equal(await sample(metrics, 'gridpulse_eia_incomplete_reads_total', { route: 'region' }), 1);
  });

  for (const [fault, problem] of [['overlap', /pages overlap: 5 rows repeat keys of earlier pages \(95 distinct rows of total 96\); 100 rows received of total 96$/], ['short', /: 95 rows received of total 96$/], ['drift', /: total changed between pages \(96 → 97\)$/], ['grow', /: 96 rows received of total 97$/]] as const) {
    it(`fails a read whose pages keep disagreeing (${fault}) after its re-reads, yielding nothing`, async () => {
      const c = client({ pageSize: 50, readRetries: 2, readRetryDelayMs: 0 });
      eia.always = fault;
      let yielded = 0;
      const err = await (async () => { try { for await (const page of c.fetch('region', range)) yielded += page.length; } catch (e) { return e; } return undefined; })();
      assert.ok(err instanceof IncompleteReadError, String(err));
      assert.match(err.message, /^region 2025-07-01T01\.\.2025-07-02T00: incomplete read after 3 attempts: /);
      assert.match(err.message, problem);
      assert.equal(yielded, 0, 'nothing of an incomplete read is yielded as if it were complete');
      assert.equal(eia.requests.filter((u) => u.searchParams.get('offset') === '0').length, 3, 'read three times from the start');
      assert.equal(c.stats.incompleteReads, 3);
      assert.ok(err.points.length > 0, 'the last attempt\'s rows travel with the error');
    });
  }


  it('an abort by the caller is not an upstream failure: the breaker stays closed', async () => {
    const c = client({ breakerThreshold: 1, breakerCooldownMs: 60_000 });
    eia.faults = ['timeout']; // the server holds the request until the caller gives up
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutting down')), 100);
    await assert.rejects(drain(c, ac.signal));
    assert.equal(c.stats.failures, 0);
    // with a threshold of one, a counted failure would open the circuit and refuse this call
    assert.equal(await drain(c), 96);
  });

  it('an already aborted signal makes no request and opens nothing', async () => {
    const c = client({ breakerThreshold: 1 });
    await assert.rejects(drain(c, AbortSignal.abort()));
    assert.equal(eia.requests.length, 0);
    assert.equal(await drain(c), 96);
  });

  it('upstream failures still open the breaker after the threshold', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const c = client({ breakerThreshold: 1, retries: 1, metrics });
    eia.faults = ['500', '500'];
    await assert.rejects(drain(c), EiaError);
    await assert.rejects(drain(c), /circuit open/);
    assert.equal(c.stats.failures, 1);
    assert.equal(await sample(metrics, 'gridpulse_eia_circuit_open'), 1);
    assert.equal(await sample(metrics, 'gridpulse_eia_circuit_opened_total'), 1);
    assert.equal(await sample(metrics, 'gridpulse_eia_requests_total', { route: 'region', outcome: 'server_error' }), 2);
    assert.equal(await sample(metrics, 'gridpulse_eia_retries_total', { route: 'region' }), 1);
    assert.equal(await sample(metrics, 'gridpulse_eia_circuit_rejections_total'), 1);
  });

  it('counts requests by route and outcome, and retries', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const c = client({ metrics, pageSize: 50 });
    eia.faults = ['429', 'truncated'];
    assert.equal(await drain(c), 96);
    assert.equal(await sample(metrics, 'gridpulse_eia_requests_total', { route: 'region', outcome: 'rate_limited' }), 1);
    assert.equal(await sample(metrics, 'gridpulse_eia_requests_total', { route: 'region', outcome: 'malformed' }), 1);
    assert.equal(await sample(metrics, 'gridpulse_eia_requests_total', { route: 'region', outcome: 'ok' }), 2);
    assert.equal(await sample(metrics, 'gridpulse_eia_retries_total', { route: 'region' }), 2);
    assert.equal(await sample(metrics, 'gridpulse_eia_circuit_open'), 0);

    // refusals end the attempts at once, and are counted too: a revoked key must show on a dashboard
    eia.faults = ['403'];
    await assert.rejects(drain(c), /HTTP 403/);
    eia.faults = ['shape'];
    await assert.rejects(drain(c), /unexpected response shape/);
    assert.equal(await sample(metrics, 'gridpulse_eia_requests_total', { route: 'region', outcome: 'client_error' }), 1);
    assert.equal(await sample(metrics, 'gridpulse_eia_requests_total', { route: 'region', outcome: 'bad_shape' }), 1);
    assert.equal(await sample(metrics, 'gridpulse_eia_retries_total', { route: 'region' }), 2, 'no retry of a refusal');

    const ac = new AbortController();
    eia.faults = ['timeout'];
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(drain(c, ac.signal));
    assert.equal(await sample(metrics, 'gridpulse_eia_requests_total', { route: 'region', outcome: 'aborted' }), 1);
  });
});
