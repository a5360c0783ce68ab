import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { freePort } from './support/free-port.ts';
import { GridpulseProcess, gridpulseEnv } from './support/gridpulse-process.ts';
import { sharedMosquitto, type MosquittoTarget } from './support/mosquitto.ts';
import { OtlpCollector, type CollectedSpan } from './support/otlp-collector.ts';
import { clientIp, count, load, servicesTest, sharedSchema, signInAt, startWebCopy, type WebCopy } from './support/web-copies.ts';
import { hashPassword } from '../src/auth/password.ts';
import { connectMqtt } from '../src/fleet/bus/mqtt-connect.ts';
import { DynsecAdmin } from '../src/fleet/bus/dynsec-admin.ts';
import { gatewayClientId } from '../src/fleet/gateway/gateway.ts';
import { startSimulator, type Simulator } from '../src/fleet/simulator/simulator.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = pino({ level: 'silent' });

/** The simulated agents' logger, counting the acks each device queued (its 'schedule ack queued' lines) by device. */
function ackCounter(): { logger: pino.Logger; queued: Map<string, number> } {
  const queued = new Map<string, number>();
  const sink = new Writable({
    write(chunk, _e, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const l = JSON.parse(line) as { msg?: string; deviceId?: string };
        if (l.msg === 'schedule ack queued' && l.deviceId) queued.set(l.deviceId, (queued.get(l.deviceId) ?? 0) + 1);
      }
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), queued };
}

const DEVICES = 200;
/** The rollout's rate: 200 devices in about 10 s, so the acks arrive as a stream a gateway can be killed in the middle of. */
const PER_MINUTE = 1_200;
const READ_LIMIT = 100;

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

/** PostgreSQL and Redis (servicesTest) and the CI Mosquitto (TEST_MQTT_*): absent, a skip outside CI and a failure under CI. */
function clusterTest(): { skip: string | false } {
  const services = servicesTest();
  if (services.skip) return services;
  return sharedMosquitto() ? { skip: false } : { skip: 'TEST_MQTT_URL not set (CI unset): run eval "$(bash .ci/mosquitto.sh)"' };
}

/** `gridpulse gateway` with its own MQTT client id (its persistent session) and METRICS_PORT; `spawned` holds it from its start (for cleanup). */
async function startGateway(env: Record<string, string>, clientId: string, spawned: GridpulseProcess[]): Promise<{ proc: GridpulseProcess; metricsPort: number; clientId: string }> {
  const metricsPort = await freePort();
  const proc = new GridpulseProcess(['gateway'], gridpulseEnv({ ...env, MQTT_GATEWAY_ID: clientId, METRICS_PORT: String(metricsPort), HOST: '127.0.0.1' }), process.cwd());
  spawned.push(proc);
  await proc.waitFor('the gateway running', (l) => l.msg === 'gateway running', 60_000);
  return { proc, metricsPort, clientId };
}

/** Acks a gateway stored since it started (its /metrics: gridpulse_gateway_acks_total{result="stored"}). */
async function storedBy(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^gridpulse_gateway_acks_total\{result="stored"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('2 web + 2 worker + 2 gateway processes on one PostgreSQL, Redis and Mosquitto', clusterTest(), () => {
  let schema: Awaited<ReturnType<typeof sharedSchema>>;
  let broker: MosquittoTarget;
  const collector = new OtlpCollector();
  const webs: WebCopy[] = [];
  const workers: Array<{ proc: GridpulseProcess; metricsPort: number }> = [];
  const gateways: Array<Awaited<ReturnType<typeof startGateway>>> = [];
  /** every gateway process started (the killed one included), for cleanup */
  const spawned: GridpulseProcess[] = [];
  let listening: Array<Promise<number>> = [];
  let operator: { authorization: string };
  let simulator: Simulator | undefined;
  const agents = ackCounter();
  const deviceIds: string[] = [];
  const run = randomBytes(4).toString('hex');
  let gatewayEnv: Record<string, string>;

  before(async () => {
    const began = Date.now();
    schema = await sharedSchema();
    broker = sharedMosquitto()!;
    await collector.start();
    const env = { DATABASE_URL: schema.url, REDIS_URL: (process.env.TEST_REDIS_URL ?? process.env.REDIS_URL)!, HISTORY_DAYS: '1', LOG_LEVEL: 'info' };
    // the CI broker is shared by every fleet test: a share group of this run's own, so no other gateway takes these acks
    const mqttEnv = { MQTT_URL: broker.url, MQTT_ADMIN_USERNAME: broker.admin.username, MQTT_ADMIN_PASSWORD: broker.admin.password, MQTT_GATEWAY_GROUP: `multi-${run}`, OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint };
    gatewayEnv = { ...env, ...mqttEnv };
    const webEnv = { ...env, ...mqttEnv, TRUST_PROXY: '127.0.0.1', RATE_LIMIT_READ: `${READ_LIMIT}/30s`, RATE_LIMIT_WRITE: '100000/1m' };
    const [a, b, passwordHash] = await Promise.all([startWebCopy(webEnv), startWebCopy(webEnv), hashPassword(`pw-${run}-multi`)]);
    webs.push(a, b);
    // live streams open on both web copies before the workers write their first hours
    listening = webs.map((w) => hear(w.base, 'hours', 90_000));
    for (let i = 0; i < 2; i++) {
      const metricsPort = await freePort();
      const proc = new GridpulseProcess(['worker'], gridpulseEnv({
        ...env, METRICS_PORT: String(metricsPort), HOST: '127.0.0.1',
        INGEST_CRON: '*/3 * * * * *', DAILY_CRON: '*/3 * * * * *', FORECAST_CRON: '0 0 1 1 *',
      }), process.cwd());
      workers.push({ proc, metricsPort });
    }
    // the gateways start beside the workers (all at once, the web copies could miss their 60 s under load)
    gateways.push(...await Promise.all(['a', 'b'].map((g) => startGateway(gatewayEnv, `multi-${run}-gw-${g}`, spawned))));
    const up = Date.now();
    // an operator provisions the devices through both web copies (their broker accounts made by the copies' dynamic-security admin)
    operator = await signInAt(schema.db, a, clientIp(), 'operator', passwordHash, `pw-${run}-multi`);
    const devices: Array<{ deviceId: string; mqttPassword: string }> = [];
    for (let i = 0; i < DEVICES; i += 20) {
      devices.push(...await Promise.all(Array.from({ length: Math.min(20, DEVICES - i) }, async (_, j) => {
        const res = await fetch(`${webs[(i + j) % 2]!.base}/api/v1/devices`, { method: 'POST', headers: { ...operator, 'content-type': 'application/json' }, body: JSON.stringify({ id: `multi-${run}-${i + j}`, name: `multi ${i + j}` }) });
        assert.equal(res.status, 201, await res.clone().text());
        const { credentials } = await res.json() as { credentials: { id: string; mqttPassword: string } };
        deviceIds.push(credentials.id);
        return { deviceId: credentials.id, mqttPassword: credentials.mqttPassword };
      })));
    }
    simulator = await startSimulator({ devices, brokerUrl: broker.url, logger: quiet, agentLogger: agents.logger, stepMs: 2_000, seed: 16 });
    assert.equal(await simulator.ready(30_000), DEVICES, 'every simulated device connected');
    console.log(`multi-instance: 6 processes up in ${up - began} ms; ${DEVICES} devices provisioned through the API and connected in ${Date.now() - up} ms`);
  });

  after(async () => {
    await simulator?.stop();
    const procs = [...spawned, ...workers.map((w) => w.proc)];
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map(async (p) => { await Promise.race([p.exited, sleep(10_000)]); p.kill('SIGKILL'); }));
    for (const w of webs) await w.stop();
    // leave the shared broker as found: no device accounts, no persistent gateway sessions of this run
    const admin = await DynsecAdmin.connect(broker.url, broker.admin, quiet).catch(() => undefined);
    if (admin) {
      const gatewayAccount = await admin.setup(broker.admin);
      await admin.revokeDevices(deviceIds).catch(() => {});
      await admin.close();
      for (const g of gateways) {
        const { client } = await connectMqtt(broker.url, { ...gatewayAccount, clientId: gatewayClientId(g.clientId), clean: true, properties: { sessionExpiryInterval: 0 } }).catch(() => ({ client: undefined }));
        await client?.endAsync();
      }
    }
    await collector.stop();
    await schema?.drop();
  });

  it('a rollout issued through web copy A: every device\'s ack stored exactly once across both gateways, one of them killed mid-stream; then one trace from an API call to the stored ack', async () => {
    const [a] = webs as [WebCopy, WebCopy];
    const start = new Date(Date.now() + 5 * 60_000).toISOString();
    const end = new Date(Date.now() + 65 * 60_000).toISOString();
    const res = await fetch(`${a.base}/api/v1/schedules`, {
      method: 'POST', headers: { ...operator, 'content-type': 'application/json' },
      body: JSON.stringify({ fleet: true, intervals: [{ start, end, action: 'idle' }], rollout: { maxPerMinute: PER_MINUTE } }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const t0 = Date.now();
    const acked = async () => Number((await schema.db.query<{ n: number }>(`SELECT count(DISTINCT device_id)::int AS n FROM device_acks WHERE state = 'acknowledged'`))[0]!.n);

    // mid-stream: once both gateways stored some and about a third is in, gateway B dies without a goodbye (SIGKILL)
    let shares = [0, 0];
    let before = 0;
    for (let i = 0; i < 300; i++) {
      shares = await Promise.all(gateways.map((g) => storedBy(g.metricsPort)));
      before = await acked();
      if (shares.every((n) => n > 0) && before >= DEVICES / 3) break;
      await sleep(100);
    }
    assert.ok(shares.every((n) => n > 0), `both gateways stored acks (shared subscription split): ${shares.join(' + ')}`);
    assert.ok(before < DEVICES, `the kill came mid-stream (${before} of ${DEVICES} stored)`);
    const b = gateways[1]!;
    b.proc.kill('SIGKILL');
    await b.proc.exited;
    // an orchestrator restarts it under the same MQTT_GATEWAY_ID: its session's unconfirmed acks come back to it
    await sleep(1_000);
    gateways[1] = await startGateway(gatewayEnv, b.clientId, spawned);

    let n = 0;
    // not a latency test (bench/fleet-fanout is): up to 90 s, so a loaded machine's slow restart is not a lost ack
    for (let i = 0; i < 900 && n < DEVICES; i++) { n = await acked(); if (n < DEVICES) await sleep(100); }
    const streamMs = Date.now() - t0;
    assert.equal(n, DEVICES, `devices whose ack was stored (${streamMs} ms after the schedule)`);
    // every ack a device sent is stored once: per device, as many rows as acks it queued (a device answers a schedule
    // re-published while its ack waited in the killed gateway's session once more: that is a second ack, stored too).
    // Checked again a second later too: a redelivery doubling an ack would land within it
    const stored = async () => {
      const r = await schema.db.query<{ device_id: string; n: number }>(`SELECT device_id, count(*)::int AS n FROM device_acks GROUP BY device_id`);
      return { rows: r, mismatched: r.filter((x) => Number(x.n) !== agents.queued.get(x.device_id)).map((x) => `${x.device_id}: ${x.n} stored, ${agents.queued.get(x.device_id)} sent`) };
    };
    let check = await stored();
    for (let i = 0; i < 100 && (check.mismatched.length || simulator!.stats().queued > 0); i++) { await sleep(100); check = await stored(); }
    await sleep(1_000);
    const { rows, mismatched } = await stored();
    assert.equal(rows.length, DEVICES);
    assert.deepEqual(mismatched, [], 'every ack a device sent stored exactly once');
    const again = rows.filter((r) => Number(r.n) > 1).length;
    const [versions] = await schema.db.query<{ v: number[] }>(`SELECT array_agg(DISTINCT version) AS v FROM device_acks`);
    assert.deepEqual(versions!.v.map(Number), [1]);
    // the devices got the broker's PUBACK for everything they sent (nothing left in their outboxes), and the ledger agrees
    assert.equal(simulator!.stats().queued, 0);
    const ledger = await schema.db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM schedule_versions GROUP BY state`);
    assert.deepEqual(ledger.map((r) => [r.state, Number(r.n)]), [['acknowledged', DEVICES]]);
    console.log(`multi-instance: ${DEVICES} acks in ${streamMs} ms at ${PER_MINUTE}/min; gateway shares before the kill ${shares.join(' + ')} of ${before}; after the restart B stored ${await storedBy(gateways[1]!.metricsPort)}; ${again} devices acknowledged twice (re-published while B was down)`);

    // copies started while others ran (the second gateway, B's restart) did not disconnect the running ones: setting
    // up the shared gateway account at start changes nothing Mosquitto kicks its clients for
    const kicked = spawned.filter((p) => p.lines.some((l) => l.msg === 'gateway lost the broker; reconnecting'));
    assert.equal(kicked.length, 0, 'no gateway copy lost the broker when another started');

    // the trace: caller → web's POST span → publish (traceparent in MQTT 5 user properties) → agent → ack → gateway's
    // span. A schedule for one device is published inside the API call (a rollout's rounds may be run by any copy's
    // loop, outside it), so one device's new version shows the whole path
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const one = await fetch(`${a.base}/api/v1/schedules`, {
      method: 'POST', headers: { ...operator, 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ deviceId: deviceIds[0], intervals: [{ start, end, action: 'idle' }] }),
    });
    assert.equal(one.status, 201, await one.clone().text());
    const stores = await collector.waitFor('gateway store-ack span in the API call\'s trace', (s) => s.traceId === traceId && s.name === 'store ack');
    assert.equal(stores.length, 1, 'one ack (the device acknowledged version 2 once)');
    assert.equal(stores[0]!.attributes['gridpulse.schedule_version'], 2);
    const inTrace = (s: CollectedSpan) => s.traceId === traceId;
    const server = (await collector.waitFor('POST /api/v1/schedules span', (s) => inTrace(s) && s.name === 'POST /api/v1/schedules'))[0]!;
    assert.equal(server.service, 'gridpulse-web');
    assert.equal(server.parentSpanId, callerSpan, 'the web copy continued the caller\'s traceparent');
    const store = stores[0]!;
    assert.equal(store.service, 'gridpulse-gateway');
    const publish = (await collector.waitFor('the publish span the ack answers', (s) => inTrace(s) && s.spanId === store.parentSpanId))[0]!;
    assert.equal(publish.name, 'publish schedule');
    assert.equal(publish.service, 'gridpulse-web');
    assert.equal(publish.attributes['gridpulse.device_id'], store.attributes['gridpulse.device_id'], 'the ack span answers its own device\'s publish');
    // the publish descends from the POST span (through the rollout round's database transaction)
    const byId = new Map(collector.spans.filter(inTrace).map((s) => [s.spanId, s]));
    let up: CollectedSpan | undefined = publish;
    while (up && up.spanId !== server.spanId) up = up.parentSpanId ? byId.get(up.parentSpanId) : undefined;
    assert.ok(up, 'the publish span is a descendant of the API call\'s span');
    const batch = await collector.waitFor('the batch span', (s) => s.service === 'gridpulse-gateway' && s.name === 'store device messages' && s.traceId !== traceId);
    assert.ok(batch.length > 0);
  });

  it('a rate limit holds across both web copies: the load spread over A and B admits the limit, not twice it', async () => {
    const codes = await load(webs, '/api/v1/bas', clientIp(), 4 * READ_LIMIT);
    const all = codes.flat();
    assert.equal(all.length - count(all, 200) - count(all, 429), 0, `only 200 and 429: ${[...new Set(all)].join(',')}`);
    const admitted = count(all, 200);
    assert.ok(admitted >= READ_LIMIT && admitted <= READ_LIMIT * 1.05, `admitted ${admitted} of ${4 * READ_LIMIT} with a limit of ${READ_LIMIT}`);
    assert.ok(codes.every((c) => count(c, 200) > 0 && count(c, 429) > 0), 'both copies admitted and refused');
  });

  it('no scheduled occurrence runs twice across the workers; both workers are ready; SSE reaches clients of both web copies', async () => {
    // each worker's first pass (run at start, not scheduled), then scheduled ticks every 3 s
    for (const w of workers) await w.proc.waitFor('the first pass', (l) => l.msg === 'job finished' && l.job === 'hourly-ingest' && l.tick === undefined, 60_000);
    const runs = () => workers.flatMap((w, i) => w.proc.lines.filter((l) => l.msg === 'job finished' && typeof l.tick === 'string').map((l) => ({ worker: i, job: String(l.job), tick: String(l.tick), outcome: String(l.outcome) })));
    const ran = (r: ReturnType<typeof runs>) => r.filter((x) => x.outcome !== 'skipped');
    // until at least 4 scheduled occurrences ran and both workers ran some (30 s at most)
    for (let i = 0; i < 300; i++) {
      const r = ran(runs());
      if (new Set(r.map((x) => `${x.job} ${x.tick}`)).size >= 4 && new Set(r.map((x) => x.worker)).size === 2) break;
      await sleep(100);
    }
    const heard = await Promise.all(listening);
    const byOccurrence = new Map<string, string[]>();
    for (const r of runs()) byOccurrence.set(`${r.job} ${r.tick}`, [...(byOccurrence.get(`${r.job} ${r.tick}`) ?? []), r.outcome]);
    assert.ok(byOccurrence.size >= 4, `scheduled occurrences seen: ${[...byOccurrence.keys()].join(', ')}`);
    // never twice; none when the previous occurrence still held the job's lock (a run longer than the interval)
    for (const [occurrence, outcomes] of byOccurrence) {
      assert.ok(outcomes.filter((o) => o !== 'skipped').length <= 1, `${occurrence} ran more than once: ${outcomes.join(', ')}`);
    }
    const occurrencesRun = [...byOccurrence.values()].filter((o) => o.some((x) => x !== 'skipped')).length;
    assert.ok(occurrencesRun >= 3, `occurrences run: ${occurrencesRun} of ${byOccurrence.size}`);
    // both copies took a share of the occurrences (neither is idle), and the store agrees: one claim per occurrence
    assert.equal(new Set(ran(runs()).map((r) => r.worker)).size, 2, 'both workers ran some occurrences');
    const [claims] = await schema.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM job_ticks`);
    assert.ok(claims!.n >= byOccurrence.size);
    for (const w of workers) {
      const res = await fetch(`http://127.0.0.1:${w.metricsPort}/readyz`);
      assert.equal(res.status, 200);
      assert.equal((await res.json() as { role: string }).role, 'worker');
    }
    for (const g of gateways) {
      const res = await fetch(`http://127.0.0.1:${g.metricsPort}/readyz`);
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal((await res.json() as { role: string }).role, 'gateway');
    }
    // workers write, PostgreSQL NOTIFY carries it to every web copy's live stream
    assert.ok(heard.every((n) => n >= 1), `hours events heard by each web copy: ${heard.join(', ')}`);
  });
});
