import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GridpulseProcess, gridpulseEnv } from './support/gridpulse-process.ts';

/** Every command (roles and CLI commands) with the arguments it requires, so commander reaches its action. */
const COMMANDS: string[][] = [
  ['start'], ['web'], ['worker'], ['gateway'], ['migrate'], ['ingest'],
  ['keys', 'create'], ['keys', 'rotate-signing'], ['keys', 'list'], ['keys', 'revoke', 'k1'],
  ['openadr', 'clients', 'create', '--name', 'x'], ['openadr', 'clients', 'list'], ['openadr', 'clients', 'revoke', 'c1'],
  ['markets', 'simulate', '--prices', 'p.csv', '--day', '2025-08-01'],
  ['agent', '--device-id', 'dev-1'], ['simulate', '--devices', '2'],
  ['devices', 'create', '--name', 'x'], ['devices', 'rotate', 'dev-1'], ['devices', 'sync-broker'],
  ['users', 'create', '--email', 'a@b.c', '--role', 'viewer'], ['users', 'sign-in-link', 'a@b.c'], ['users', 'disable', 'a@b.c'],
  ['users', 'enable', 'a@b.c'], ['users', 'list'],
  ['forecast', 'backtest'], ['forecast', 'refresh'], ['backup', 'verify'],
  ['egrid', 'import', 'e.csv'], ['prices', 'import', 'p.csv'], ['optimize', 'backtest'],
];

const ROLES = ['start', 'web', 'worker', 'gateway', 'agent', 'simulate'];

/** Bad values of the kinds the tester used: out of range, not a number, wrong scheme. */
const BAD: Array<[string, string]> = [['MQTT_PORT', '99999'], ['PORT', 'abc'], ['MQTT_URL', 'http://x']];

async function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'gp-config-'));
  const p = new GridpulseProcess(args, gridpulseEnv({ DATA_DIR: cwd, ...env }), cwd);
  const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stderr: p.stderr };
}

describe('a bad environment value is one line and exit 1 for every command', () => {
  it('the list covers every leaf command main.ts declares', () => {
    const source = readFileSync(new URL('../src/cli/main.ts', import.meta.url), 'utf8');
    const groups = new Set([...source.matchAll(/const (\w+) = (?:\w+)\.command\('([\w-]+)'\)/g)].map((m) => m[2]));
    const declared = [...source.matchAll(/\.command\('([\w-]+)'\)/g)].map((m) => m[1]!).filter((name) => !groups.has(name));
    assert.ok(declared.length >= COMMANDS.length - 1, 'the scan found the commands');
    for (const name of declared) assert.ok(COMMANDS.some((c) => c.includes(name)), `command ${name} is not in COMMANDS`);
  });

  for (const args of COMMANDS.filter((c) => !ROLES.includes(c[0]!))) {
    it(`gridpulse ${args.join(' ')}`, async () => {
      // each CLI command meets one of the bad values (round robin); every role meets all three below
      const [name, value] = BAD[COMMANDS.indexOf(args) % BAD.length]!;
      const { code, stderr } = await run(args, { [name]: value });
      assert.equal(code, 1, stderr);
      const lines = stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
      assert.match(lines[0]!, new RegExp(`^gridpulse: invalid configuration: ${name}: `));
      assert.doesNotMatch(stderr, /\n\s+at /);
    });
  }

  for (const role of ROLES) {
    for (const [name, value] of BAD) {
      it(`${role} with ${name}=${value}`, async () => {
        const args = COMMANDS.find((c) => c[0] === role)!;
        const { code, stderr } = await run(args, { [name]: value });
        assert.equal(code, 1, stderr);
        assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
        assert.match(stderr, new RegExp(`^gridpulse: invalid configuration: ${name}: `));
      });
    }
  }
});
