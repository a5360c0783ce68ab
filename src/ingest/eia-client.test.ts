import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { FakeEia, regionRows } from '../../test/support/fake-eia-server.ts';
import { Metrics } from '../platform/metrics.ts';
import { EiaClient, EiaError, type EiaClientOptions } from './eia-client.ts';

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

describe('EiaClient against the fake EIA server', () => {
  const eia = new FakeEia();
  let baseUrl: string;
  const client = (o: Partial<EiaClientOptions> = {}) => new EiaClient({ baseUrl, apiKey: 'secret-key-123', logger, minIntervalMs: 0, timeoutMs: 5_000, retries: 2, ...o });

  before(async () => {
    baseUrl = await eia.start();
    eia.rows.region = regionRows('CISO', new Date('2025-07-01T01:00Z'), 24, (h) => String(20000 + h));
  });
  after(() => eia.stop());
  beforeEach(() => { eia.faults = []; eia.requests = []; });

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
