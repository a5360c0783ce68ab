import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCredentials, simulateCommand } from './agent-command.ts';

const line = (id: string) => ({ id, mqttUsername: id, mqttPassword: `pw-${id}`, apiKey: `gp_000000000000_${id}` });

test('--credentials takes `devices create --json` lines and the API\'s create answers ({device, credentials}), as lines or an array', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gp-cred-'));
  try {
    const want = [{ deviceId: 'pi-a', mqttPassword: 'pw-pi-a', apiKey: 'gp_000000000000_pi-a' }, { deviceId: 'pi-b', mqttPassword: 'pw-pi-b', apiKey: 'gp_000000000000_pi-b' }];
    const lines = join(dir, 'lines.jsonl');
    writeFileSync(lines, `${JSON.stringify(line('pi-a'))}\n\n${JSON.stringify({ device: { id: 'pi-b', name: 'b' }, credentials: line('pi-b') })}\n`);
    assert.deepEqual(readCredentials(lines), want);
    const array = join(dir, 'array.json');
    writeFileSync(array, JSON.stringify([{ device: { id: 'pi-a' }, credentials: line('pi-a') }, line('pi-b')]));
    assert.deepEqual(readCredentials(array), want);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"id": "pi-a"\n');
    assert.throws(() => readCredentials(bad), /--credentials .*bad\.json: not JSON/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('simulate --api without device keys stops with a line naming --api', async () => {
  await assert.rejects(simulateCommand({ devices: '2', broker: 'mqtt://127.0.0.1:1', api: 'http://127.0.0.1:1', prefix: 'sim', logLevel: 'silent' }), /--api: .*apiKey/);
});
