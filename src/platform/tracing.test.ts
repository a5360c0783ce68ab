import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { createLogger } from './log.ts';
import { memoryCache } from './cache.ts';
import { migrate } from './migrate.ts';
import { openDb } from './db.ts';
import { buildApp } from '../app.ts';
import { extractMqtt, injectMqtt, mqttTraceCarrier, startTracing, traceFields, withContext, withSpan, type Tracing } from './tracing.ts';
import { EiaClient } from '../ingest/eia-client.ts';
import { FakeEia, regionRows } from '../../test/support/fake-eia-server.ts';

let tracing: Tracing | undefined;
afterEach(async () => { await tracing?.shutdown(); tracing = undefined; });

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _e, done) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  return { lines, logger: createLogger('info', sink) };
}

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('tracing', () => {
  it('is off without an endpoint or exporter: nothing installed, no ids on log lines, helpers still run the work', async () => {
    assert.equal(startTracing({ role: 'test' }), undefined);
    const { lines, logger } = capture();
    const out = await withSpan('nothing', {}, async (span) => { logger.info('inside'); return span; });
    assert.equal(out, undefined);
    assert.deepEqual(traceFields(), {});
    assert.equal(lines[0]!.trace_id, undefined);
    assert.deepEqual(injectMqtt({ a: '1' }), { a: '1' });
  });

  it('an API call continues the caller\'s traceparent; its database queries are child spans; log lines carry the ids', async () => {
    const mem = new InMemorySpanExporter();
    tracing = startTracing({ role: 'test', exporters: [mem] });
    const db = await openDb({ dataDir: ':memory:' });
    await migrate(db);
    const { lines, logger } = capture();
    const app = await buildApp({ db, logger, cache: memoryCache() });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await app.inject({ url: '/readyz', headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
    assert.equal(res.statusCode, 200);
    const failing = await app.inject({ url: '/api/v1/no-such-route' });
    assert.equal(failing.statusCode, 404);
    await app.close();
    await db.close();
    const spans = mem.getFinishedSpans();
    const server = spans.find((s) => s.name === 'GET /readyz');
    assert.ok(server, `no server span among ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(server.spanContext().traceId, traceId);
    assert.equal(parentOf(server), callerSpan);
    assert.equal(server.attributes['http.response.status_code'], 200);
    const queries = spans.filter((s) => s.name.startsWith('db ') && s.spanContext().traceId === traceId);
    assert.ok(queries.length >= 1, 'the readiness check\'s query is a span of the request\'s trace');
    assert.ok(queries.every((q) => parentOf(q) === server.spanContext().spanId || spans.some((p) => p.spanContext().spanId === parentOf(q))));
    assert.equal(queries[0]!.attributes['db.system.name'], 'pglite');
    const notFound = spans.find((s) => s.attributes['url.path'] === '/api/v1/no-such-route');
    assert.ok(notFound && notFound.spanContext().traceId !== traceId, 'a request without traceparent starts its own trace');
    assert.equal(notFound.attributes['http.response.status_code'], 404);
    const logged = lines.filter((l) => l.trace_id === traceId);
    assert.ok(logged.length >= 1, 'some log line of the request carries its trace id');
    assert.match(String(logged[0]!.span_id), /^[0-9a-f]{16}$/);
  });

  it('an EIA request is a CLIENT span of the job and sends the trace to EIA; a failure marks the span', async () => {
    const mem = new InMemorySpanExporter();
    tracing = startTracing({ role: 'test', exporters: [mem] });
    const eia = new FakeEia();
    const base = await eia.start();
    try {
      eia.rows.region = regionRows('CISO', new Date('2026-01-01T01:00Z'), 3, () => '100');
      const { logger } = capture();
      const client = new EiaClient({ baseUrl: base, apiKey: 'test-key-123', logger, minIntervalMs: 0, retries: 0 });
      const jobTrace = await withSpan('job hourly-ingest', {}, async (span) => {
        for await (const page of client.fetch('region', { bas: ['CISO'], from: new Date('2026-01-01T00:00Z'), to: new Date('2026-01-01T02:00Z') })) assert.ok(page.length > 0);
        return span!.spanContext().traceId;
      }, { root: true });
      eia.always = '403';
      await assert.rejects(withSpan('job failing', {}, async () => {
        for await (const page of client.fetch('region', { bas: ['CISO'], from: new Date('2026-01-01T00:00Z'), to: new Date('2026-01-01T02:00Z') })) assert.ok(page);
      }, { root: true }));
      const spans = mem.getFinishedSpans();
      const call = spans.find((s) => s.name === 'EIA GET region' && s.spanContext().traceId === jobTrace);
      assert.ok(call, 'the EIA call belongs to the job\'s trace');
      assert.equal(call.attributes['http.response.status_code'], 200);
      assert.equal(eia.traceparentsSeen[0]!.split('-')[1], jobTrace, 'EIA received the traceparent');
      const failed = spans.find((s) => s.name === 'job failing');
      assert.equal(failed?.status.code, 2);
      assert.equal(spans.find((s) => s.name === 'EIA GET region' && s.attributes['http.response.status_code'] === 403)?.status.code, 2);
    } finally { await eia.stop(); }
  });

  it('carries a trace through MQTT 5 user properties (publish → broker → subscriber)', async (t) => {
    const url = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
    const probe = await mqtt.connectAsync(url, { protocolVersion: 5, connectTimeout: 2000, reconnectPeriod: 0 }).catch(() => undefined);
    if (!probe) {
      if (process.env.CI) assert.fail(`no MQTT broker at ${url}`);
      t.skip(`no MQTT broker at ${url}`);
      return;
    }
    const mem = new InMemorySpanExporter();
    tracing = startTracing({ role: 'test', exporters: [mem] });
    const topic = `gp-test/trace/${process.pid}/${Date.now()}`;
    const pub = await mqtt.connectAsync(url, { protocolVersion: 5 });
    try {
      const received = new Promise<string>((resolve) => {
        probe.on('message', (_topic, _payload, packet) => {
          const ctx = extractMqtt(packet.properties?.userProperties);
          // resolved once the span has ended, so the exporter holds it when the test looks
          void withContext(ctx, () => withSpan('device ack', {}, async (span) => span!.spanContext().traceId)).then(resolve);
        });
      });
      await probe.subscribeAsync(topic, { qos: 1 });
      const sent = await withSpan('publish schedule', {}, async (span) => {
        await pub.publishAsync(topic, 'schedule', { qos: 1, properties: { userProperties: injectMqtt({ device: 'bat-1' }) } });
        return span!.spanContext().traceId;
      });
      assert.equal(await received, sent);
      const ack = mem.getFinishedSpans().find((s) => s.name === 'device ack');
      assert.equal(parentOf(ack!), mem.getFinishedSpans().find((s) => s.name === 'publish schedule')!.spanContext().spanId);
    } finally { await pub.endAsync(); await probe.endAsync(); }
  });

  it('an agent relays a schedule\'s context from MQTT 5 user properties without a tracer; a malformed one is dropped (property)', () => {
    const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
    fc.assert(fc.property(hex(32), hex(16), fc.option(fc.string({ maxLength: 300 }), { nil: undefined }), (traceId, spanId, tracestate) => {
      const traceparent = `00-${traceId}-${spanId}-01`;
      const got = mqttTraceCarrier({ traceparent, ...(tracestate ? { tracestate } : {}), device: 'bat-1' });
      assert.deepEqual(got, tracestate ? { traceparent, tracestate } : { traceparent }, 'the context and nothing else');
    }));
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (junk) => {
      fc.pre(!/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(junk));
      assert.equal(mqttTraceCarrier({ traceparent: junk }), undefined);
    }));
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    assert.deepEqual(mqttTraceCarrier({ traceparent: [tp, 'second'] }), { traceparent: tp }, 'a repeated property: the first');
    assert.deepEqual(mqttTraceCarrier({ traceparent: tp, tracestate: 'x'.repeat(9_000) }), { traceparent: tp }, 'an oversized tracestate is left behind');
    assert.equal(mqttTraceCarrier(undefined), undefined);
  });

  it('exports to an OTLP/HTTP collector at OTEL_EXPORTER_OTLP_ENDPOINT (flushed on shutdown)', async () => {
    const bodies: Array<{ path: string; body: string }> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => { bodies.push({ path: req.url ?? '', body }); res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
      tracing = startTracing({ role: 'worker', endpoint });
      const id = await withSpan('job forecasts', { 'gridpulse.job': 'forecasts' }, async () => trace.getActiveSpan()!.spanContext().traceId);
      await tracing!.shutdown();
      tracing = undefined;
      assert.equal(bodies.length, 1);
      assert.equal(bodies[0]!.path, '/v1/traces');
      const sent = JSON.parse(bodies[0]!.body) as { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: Array<{ name: string; traceId: string }> }> }> };
      const rs = sent.resourceSpans[0]!;
      assert.equal(rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue, 'gridpulse-worker');
      const span = rs.scopeSpans[0]!.spans[0]!;
      assert.equal(span.name, 'job forecasts');
      assert.equal(span.traceId, id);
    } finally { receiver.close(); }
  });

  it('says once that spans are dropped while the collector is unreachable, and once that they are exported again', async () => {
    const { freePort } = await import('../../test/support/free-port.ts');
    const port = await freePort();
    const { lines, logger } = capture();
    tracing = startTracing({ role: 'test', endpoint: `http://127.0.0.1:${port}`, logger });
    for (let i = 0; i < 3; i++) {
      await withSpan(`lost ${i}`, {}, async () => {});
      await assert.rejects(tracing!.flush());
    }
    assert.deepEqual(lines.map((l) => l.msg), ['tracing: spans not exported (dropped); the exporter keeps trying'], 'one line, not one per failed export');
    const receiver = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')); });
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
    try {
      await withSpan('kept', {}, async () => {});
      await tracing!.flush();
      assert.deepEqual(lines.map((l) => l.msg), ['tracing: spans not exported (dropped); the exporter keeps trying', 'tracing: spans exported again']);
      assert.equal(lines[1]!.dropped, 3);
    } finally { receiver.close(); }
  });
});
