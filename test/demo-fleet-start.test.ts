import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { processTargets } from './support/process-targets.ts';
import { GridpulseProcess, gridpulseEnv } from './support/gridpulse-process.ts';
import { freePort } from './support/free-port.ts';

/**
 * The demo of issue 14, as a user meets it: `gridpulse start` on the embedded defaults (no MQTT_URL) runs the
 * embedded broker, the gateway and DEMO_FLEET (20) simulated battery agents. Everything is checked through the
 * HTTP API with an operator's sign-in, never by reading the process's insides.
 */

const MAIN = path.resolve(fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)));
const NEVER = '0 0 1 1 *';
const DEMO_DEVICES = 20;

interface Device { id: string; name: string; status: 'online' | 'offline' }
interface DeviceDetail extends Device { shadow: { desired: { version: number; state: string } | null; confirmedVersion: number } }

describe('the demo: `gridpulse start` on the embedded defaults', () => {
  for (const { name, make } of processTargets('demo_start')) {
    it(`runs the embedded broker, the gateway and 20 labelled simulated devices that come online and acknowledge schedules sent through the API (${name})`, { timeout: 300_000 }, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'gp-demo-start-'));
      const target = await make(dir);
      const email = `operator-${process.pid}@example.org`;
      const password = `demo-${Math.random().toString(36).slice(2)}-Fleet-7351`;
      const env = (extra: Record<string, string>) => gridpulseEnv({
        DATA_DIR: dir, LOG_LEVEL: 'info', HISTORY_DAYS: '1', INGEST_CRON: NEVER, DAILY_CRON: NEVER, FORECAST_CRON: NEVER, ...target.env, ...extra,
      });
      // an operator account, as an administrator creates one (the CLI, password on stdin)
      const created = spawnSync(process.execPath, [MAIN, 'users', 'create', '--email', email, '--role', 'operator', '--password-stdin'],
        { env: env({}), cwd: dir, input: `${password}\n`, encoding: 'utf8', timeout: 120_000 });
      assert.equal(created.status, 0, `users create: ${created.stderr}`);
      const gp = new GridpulseProcess(['start'], env({ PORT: '0', MQTT_PORT: String(await freePort()) }), dir);
      try {
        const listening = await gp.waitFor('the HTTP server', (l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening at http://127.0.0.1:'));
        const base = /(http:\/\/127\.0\.0\.1:\d+)/.exec(listening.msg!)![1]!;
        const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
        assert.equal(login.status, 200, await login.clone().text());
        const headers = { authorization: `Bearer ${(await login.json() as { accessToken: string }).accessToken}`, 'content-type': 'application/json' };
        const api = async <T,>(url: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
          const res = await fetch(`${base}${url}`, { ...init, headers });
          return { status: res.status, body: await res.json() as T };
        };
        const demoDevices = async () => (await api<{ data: Device[] }>('/api/v1/devices?limit=1000')).body.data.filter((d) => d.id.startsWith('sim-demo-'));
        const until = async <T,>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> => {
          const deadline = Date.now() + ms;
          for (;;) {
            const v = await probe();
            if (v !== undefined) return v;
            if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms\nstderr: ${gp.stderr.slice(-2000)}`);
            await sleep(500);
          }
        };

        // 20 demo devices, labelled simulated, all online (status from their own MQTT status messages)
        const online = await until('20 demo devices online', async () => {
          const d = await demoDevices();
          return d.length === DEMO_DEVICES && d.every((x) => x.status === 'online') ? d : undefined;
        });
        assert.deepEqual(online.map((d) => d.id), Array.from({ length: DEMO_DEVICES }, (_, i) => `sim-demo-${String(i + 1).padStart(2, '0')}`));
        assert.ok(online.every((d) => /SIMULATED/.test(d.name)), `every demo device is labelled simulated: ${online.map((d) => d.name).join(', ')}`);
        await gp.waitFor('the log saying the demo fleet is simulated', (l) => l.msg === 'demo fleet: SIMULATED battery agents (not hardware)', 10_000);

        // one device: 201 with its version, acknowledged by the agent over MQTT through the gateway
        const at = (min: number) => new Date(Date.now() + min * 60_000).toISOString();
        const one = await api<{ kind: string; version: number }>('/api/v1/schedules', { method: 'POST', body: JSON.stringify({ deviceId: 'sim-demo-03', intervals: [{ start: at(2), end: at(62), action: 'idle' }] }) });
        assert.equal(one.status, 201, JSON.stringify(one.body));
        const acked = await until('sim-demo-03 acknowledging its version', async () => {
          const d = (await api<DeviceDetail>('/api/v1/devices/sim-demo-03')).body;
          const v = d.shadow.desired;
          // the version's delivery state and the device's confirmed version (its own word), read as one device page
          return v && v.version === one.body.version && ['acknowledged', 'executing', 'succeeded'].includes(v.state) && d.shadow.confirmedVersion === v.version ? d : undefined;
        });
        assert.equal(acked.status, 'online');

        // the whole fleet: 202 with a rollout at once; every device acknowledges its version
        const all = await api<{ kind: string; rolloutId: string; total: number }>('/api/v1/schedules', { method: 'POST', body: JSON.stringify({ fleet: true, intervals: [{ start: at(3), end: at(63), action: 'idle' }] }) });
        assert.equal(all.status, 202, JSON.stringify(all.body));
        assert.equal(all.body.total, DEMO_DEVICES);
        const done = await until('the fleet rollout acknowledged by every device', async () => {
          const r = (await api<{ status: string; states: Record<'acknowledged' | 'executing' | 'succeeded' | 'failed' | 'timed-out', number> }>(`/api/v1/rollouts/${all.body.rolloutId}`)).body;
          return r.states.acknowledged + r.states.executing + r.states.succeeded === DEMO_DEVICES ? r : undefined;
        });
        assert.equal(done.states.failed + done.states['timed-out'], 0);
      } finally {
        gp.kill('SIGTERM');
        await gp.exited;
        await target.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('refuses to start with a one-line error when MQTT_PORT is taken', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gp-demo-port-'));
    const squatter = net.createServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const { port } = squatter.address() as net.AddressInfo;
    try {
      const gp = new GridpulseProcess(['start'], gridpulseEnv({ DATA_DIR: dir, PORT: '0', MQTT_PORT: String(port), LOG_LEVEL: 'info', HISTORY_DAYS: '1' }), dir);
      const { code } = await gp.exited;
      assert.equal(code, 1);
      const lines = gp.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line on stderr: ${gp.stderr}`);
      assert.match(lines[0]!, new RegExp(`^gridpulse: MQTT_PORT ${port} on 127\\.0\\.0\\.1 is taken`));
      assert.equal(gp.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening')), false, 'no HTTP server was left listening');
    } finally {
      await new Promise((r) => squatter.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
