import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createLogger } from '../../platform/log.ts';
import { runAgent } from './run-agent.ts';
import { Agent } from './agent.ts';
import { AgentStore } from './agent-store.ts';
import { DEFAULT_BATTERY, SimulatedBattery } from './battery.ts';
import { HttpLink, type HttpLinkOptions } from './http-link.ts';
import { MqttLink } from './mqtt-link.ts';

const silent = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A local HTTP server answering every schedule poll with `answer` at once (and every POST with 200), counting the polls. */
async function fastServer(answer: (res: ServerResponse) => void): Promise<{ url: string; polls: () => number; close(): Promise<void> }> {
  let polls = 0;
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.method === 'GET') { polls++; answer(res); return; }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"applied":1,"stale":0,"unknown":0,"outOfWindow":0}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, polls: () => polls,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A closed loopback port: a broker that is down. */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function httpLink(url: string, o: Partial<HttpLinkOptions> = {}): { link: HttpLink; store: AgentStore } {
  const store = new AgentStore(':memory:');
  const agent = new Agent({ deviceId: 'pi-pace', store, driver: new SimulatedBattery(DEFAULT_BATTERY, Date.now, 50), clock: Date.now, logger: silent });
  return { link: new HttpLink(agent, store, { apiUrl: url, key: 'gp_000000000000_x', ...o }, silent), store };
}

describe('the agent\'s links never spin, however fast the other side answers', () => {
  it('an MQTT agent with --api whose broker is down polls an old server answering 204 at once about once per wait, not in a loop', async () => {
    const server = await fastServer((res) => res.writeHead(204, { etag: '"v0"' }).end());
    const running = runAgent({ deviceId: 'pi-pace', brokerUrl: `mqtt://127.0.0.1:${await closedPort()}`, mqttPassword: 'x', apiUrl: server.url, apiKey: 'gp_000000000000_x',
      storePath: ':memory:', logger: silent, mqtt: { connectTimeoutMs: 1_000 } });
    try {
      await sleep(3_000);
      assert.equal(running.mqtt?.connected, false);
      assert.ok(server.polls() >= 1, 'the HTTP fallback polls while MQTT is down');
      assert.ok(server.polls() <= 2, `${server.polls()} polls in 3 s: answered at once, the agent waits out the 30 s it asked for`);
    } finally { await running.stop(); await server.close(); }
  });

  it('a server answering 304 at once to a short wait: polls at least the minimum interval apart', async () => {
    const server = await fastServer((res) => res.writeHead(304, { etag: '"v1"' }).end());
    const { link, store } = httpLink(server.url, { waitS: 1, minIntervalMs: 1_000 });
    link.start();
    await sleep(3_400);
    await link.stop();
    store.close();
    await server.close();
    // starts ≥ 1–1.5 s apart: at most 0, 1, 2, 3 s
    assert.ok(server.polls() >= 2 && server.polls() <= 4, `${server.polls()} polls in 3.4 s`);
  });

  it('429 with Retry-After: nothing is sent before it is over', async () => {
    const server = await fastServer((res) => res.writeHead(429, { 'retry-after': '3', 'content-type': 'application/problem+json' }).end('{"status":429}'));
    const { link, store } = httpLink(server.url, { waitS: 30, minIntervalMs: 100 });
    link.start();
    await sleep(2_500);
    await link.stop();
    store.close();
    await server.close();
    assert.equal(server.polls(), 1, 'one poll, then the 3 s the server asked for');
  });

  it('a broker that accepts the connection and drops it at once is retried ever more slowly, not every few hundred ms', async () => {
    let connects = 0;
    const sockets = new Set<Socket>();
    const broker: Server = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.once('data', () => {
        connects++;
        // CONNACK (MQTT 5: flags 0, reason 0, no properties), then the connection is cut, as a takeover by another client would
        socket.write(Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]));
        setTimeout(() => socket.destroy(), 20);
      });
    });
    await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
    const store = new AgentStore(':memory:');
    const agent = new Agent({ deviceId: 'pi-flap', store, driver: new SimulatedBattery(DEFAULT_BATTERY, Date.now, 50), clock: Date.now, logger: silent });
    const link = new MqttLink(agent, store, { url: `mqtt://127.0.0.1:${(broker.address() as AddressInfo).port}`, backoff: { baseMs: 200, random: () => 0.5 } }, silent);
    link.start();
    await sleep(3_000);
    await link.stop();
    store.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => broker.close(r));
    // delays 100, 200, 400, 800, 1600 ms: about 5 connections in 3 s (a reset on every CONNACK: one every ~100 ms)
    assert.ok(connects >= 2 && connects <= 7, `${connects} connections in 3 s`);
  });
});
