import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GridpulseProcess, gridpulseEnv } from './support/gridpulse-process.ts';
import { freePort } from './support/free-port.ts';
import { startTestAedes } from './support/test-aedes.ts';

/**
 * Every long-running command ends on one Ctrl-C within about 2 s, whatever state its waits are in: `gridpulse
 * simulate` while the broker refuses its connections (it waits for them to connect), `gridpulse agent` whose device was
 * revoked (the broker and the API refuse its credentials: it backs off and retries).
 */

const STOP_MS = 2_000;

describe('Ctrl-C ends a long-running command that is waiting', () => {
  const dirs: string[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups) await c();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function interruptWhile(args: string[], waiting: (l: { msg?: string }) => boolean, what: string) {
    const dir = mkdtempSync(path.join(tmpdir(), 'gp-interrupt-'));
    dirs.push(dir);
    const gp = new GridpulseProcess(args, gridpulseEnv({ DATA_DIR: dir, LOG_LEVEL: 'info' }), dir);
    cleanups.push(() => { if (gp.child.exitCode === null && gp.child.signalCode === null) gp.kill('SIGKILL'); });
    await gp.waitFor(what, waiting, 60_000);
    await sleep(1_500); // well into its retries
    const t0 = Date.now();
    gp.kill('SIGINT');
    const exit = await Promise.race([gp.exited, sleep(15_000).then(() => 'still running after 15 s' as const)]);
    const ms = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, `${args[0]}: ${gp.stdout.slice(-1500)}`);
    assert.ok(ms < STOP_MS, `${args[0]} stopped ${ms} ms after Ctrl-C (at most ${STOP_MS})`);
    return gp;
  }

  it('gridpulse simulate, the broker refusing its connections', { timeout: 90_000 }, async () => {
    const port = await freePort(); // nothing listens: ECONNREFUSED, again and again
    const gp = await interruptWhile(['simulate', '--devices', '3', '--broker', `mqtt://127.0.0.1:${port}`],
      (l) => l.msg === 'mqtt error', 'a refused connection');
    assert.ok(gp.lines.some((l) => l.msg === 'simulated fleet stopped'));
  });

  it('gridpulse agent of a revoked device: the broker and the API refuse its credentials', { timeout: 90_000 }, async () => {
    const broker = await startTestAedes();
    broker.broker.authenticate = (_client, _user, _pass, done) => done(null, false);
    cleanups.push(() => broker.kill());
    const api = http.createServer((req, res) => {
      req.resume();
      res.writeHead(401, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'revoked' }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => { api.closeAllConnections(); api.close(() => resolve()); }));
    const gp = await interruptWhile(['agent', '--device-id', 'pi-revoked', '--broker', broker.url, '--mqtt-password', 'was-valid',
      '--api', `http://127.0.0.1:${(api.address() as AddressInfo).port}`, '--key', 'gp_000000000000_revoked'],
    (l) => l.msg === 'mqtt error', 'the broker refusing its password');
    assert.ok(gp.lines.some((l) => l.msg === 'agent stopped; unsent messages stay queued in its store'));
  });
});
