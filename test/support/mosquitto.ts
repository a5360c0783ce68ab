import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { MqttCredentials } from '../../src/fleet/bus/embedded-broker.ts';
import { freePort } from './free-port.ts';

/**
 * Mosquitto for the fleet tests. `sharedMosquitto()`: the CI broker (.ci/mosquitto.sh, 127.0.0.1:1885) named
 * by TEST_MQTT_URL and TEST_MQTT_ADMIN_USERNAME/PASSWORD; absent, undefined when CI is unset (the test skips)
 * and an error under CI=true. `startPrivateMosquitto()`: a broker of this test's own, on a free loopback port,
 * with the repository's deploy/mosquitto/mosquitto.conf and a fresh dynamic-security file: tests that kill or
 * restart a broker use one of these, never the shared one.
 */
export interface MosquittoTarget { url: string; admin: MqttCredentials }

export function sharedMosquitto(): MosquittoTarget | undefined {
  const url = process.env.TEST_MQTT_URL;
  const username = process.env.TEST_MQTT_ADMIN_USERNAME;
  const password = process.env.TEST_MQTT_ADMIN_PASSWORD;
  if (url && username && password) return { url, admin: { username, password } };
  if (process.env.CI) throw new Error('TEST_MQTT_URL and TEST_MQTT_ADMIN_USERNAME/PASSWORD are required under CI=true: run eval "$(.ci/mosquitto.sh)"');
  return undefined;
}

/** The dynamic-security plugin of the installed Mosquitto, or undefined when Mosquitto is absent. */
export function dynsecPlugin(): string | undefined {
  const r = spawnSync('dpkg', ['-L', 'mosquitto'], { encoding: 'utf8' });
  const found = r.status === 0 ? r.stdout.split('\n').find((l) => l.endsWith('mosquitto_dynamic_security.so')) : undefined;
  if (!found && process.env.CI) throw new Error('Mosquitto with its dynamic-security plugin is required under CI=true (apt-get install mosquitto mosquitto-clients)');
  return found;
}

export interface PrivateMosquitto extends MosquittoTarget {
  readonly port: number;
  readonly dir: string;
  /** SIGKILL: no clean shutdown, no last persistence save. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same files (after kill or stop). */
  restart(): Promise<void>;
  /** SIGTERM and removes its folder. */
  stop(): Promise<void>;
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function waitForPort(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  let log = '';
  try { log = readFileSync(logFile, 'utf8').slice(-2000); } catch { /* no log yet */ }
  throw new Error(`private mosquitto on port ${port} did not start (exit ${child.exitCode}): ${log}`);
}

export async function startPrivateMosquitto(): Promise<PrivateMosquitto> {
  const plugin = dynsecPlugin();
  if (!plugin) throw new Error('Mosquitto is not installed');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gp-mosquitto-'));
  const port = await freePort();
  const admin = { username: 'gridpulse-admin', password: randomBytes(12).toString('base64url') };
  const init = spawnSync('mosquitto_ctrl', ['dynsec', 'init', path.join(dir, 'dynamic-security.json'), admin.username, admin.password], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`mosquitto_ctrl dynsec init failed: ${init.stderr}`);
  const logFile = path.join(dir, 'mosquitto.log');
  writeFileSync(path.join(dir, 'mosquitto.conf'), [
    readFileSync(path.join(REPO, 'deploy/mosquitto/mosquitto.conf'), 'utf8'),
    `listener ${port} 127.0.0.1`,
    `plugin ${plugin}`,
    `plugin_opt_config_file ${path.join(dir, 'dynamic-security.json')}`,
    'persistence true',
    `persistence_location ${dir}/`,
    'autosave_interval 1',
    `log_dest file ${logFile}`,
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    '',
  ].join('\n'));
  let child: ChildProcess;
  // a test process that dies (or is killed by a timeout) takes its broker with it
  const reap = () => { child.kill('SIGKILL'); };
  process.once('exit', reap);
  const launch = async () => {
    child = spawn('mosquitto', ['-c', path.join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    try {
      await waitForPort(port, child, logFile);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  };
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  };
  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`, port, dir, admin,
    kill: () => end('SIGKILL'),
    restart: launch,
    stop: async () => { await end('SIGTERM'); process.off('exit', reap); rmSync(dir, { recursive: true, force: true }); },
  };
}
