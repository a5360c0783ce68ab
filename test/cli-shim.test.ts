import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GridpulseProcess, gridpulseEnv } from './support/gridpulse-process.ts';
import { freePort } from './support/free-port.ts';

/**
 * bin/gridpulse.mjs, the npm bin: the CLI runs as its child, so a signal for the shim (a process manager knows only
 * its pid) must reach the CLI and end in its graceful stop, the shim exiting with its code and leaving no orphan.
 */

const NEVER = '0 0 1 1 *';
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe('the gridpulse bin shim', () => {
  const dirs: string[] = [];
  const started: number[] = [];
  after(() => {
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL'); // an orphan the old shim left running
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const how of ['SIGTERM to the shim alone (a process manager)', 'SIGINT to its process group (Ctrl-C in a terminal)', 'SIGKILL to the shim alone (a process manager escalating)'] as const) {
    it(`${how}: \`gridpulse start\` stops gracefully, and no process is left`, { timeout: 180_000 }, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'gp-shim-'));
      dirs.push(dir);
      const gp = new GridpulseProcess(['start'], gridpulseEnv({
        DATA_DIR: dir, PORT: '0', MQTT_PORT: String(await freePort()), LOG_LEVEL: 'info', HISTORY_DAYS: '1', DEMO_FLEET: '0',
        INGEST_CRON: NEVER, DAILY_CRON: NEVER, FORECAST_CRON: NEVER,
      }), dir, { shim: true, ownGroup: true });
      try {
        const listening = await gp.waitFor('the HTTP server', (l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening at'), 150_000);
        const cli = Number(listening.pid);
        assert.ok(cli > 0 && cli !== gp.child.pid, 'the CLI runs as the shim\'s child');
        started.push(cli);
        const t0 = Date.now();
        if (how.startsWith('SIGTERM')) gp.kill('SIGTERM');
        else if (how.startsWith('SIGKILL')) gp.kill('SIGKILL');
        else gp.killGroup('SIGINT');
        const exit = await Promise.race([gp.exited, sleep(30_000).then(() => 'timed out' as const)]);
        assert.notEqual(exit, 'timed out', `the shim did not exit within 30 s\n${gp.stderr.slice(-2000)}`);
        // killed outright, the shim has no exit code; the CLI, its IPC channel closed, stops on its own
        if (how.startsWith('SIGKILL')) assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
        else assert.deepEqual(exit, { code: 0, signal: null }, `shim exit; stderr: ${gp.stderr.slice(-2000)}`);
        for (let i = 0; i < 300 && alive(cli) && !gp.lines.some((l) => l.msg === 'stopped'); i++) await sleep(100);
        assert.ok(gp.lines.some((l) => l.msg === 'stopped'), `the CLI's graceful stop ran to its end: ${gp.stdout.slice(-1500)}`);
        for (let i = 0; i < 50 && alive(cli); i++) await sleep(100);
        assert.equal(alive(cli), false, `the CLI (pid ${cli}) is not left running`);
        assert.ok(Date.now() - t0 < 30_000);
      } finally {
        if (gp.child.exitCode === null && gp.child.signalCode === null) gp.kill('SIGKILL');
      }
    });
  }
});
