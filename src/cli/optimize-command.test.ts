import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gridpulseEnv } from '../../test/support/gridpulse-process.ts';
import { parseBattery } from './optimize-command.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const run = (args: string[]) => promisify(execFile)(process.execPath, [MAIN, ...args], { env: gridpulseEnv({ DATA_DIR: mkdtempSync(path.join(tmpdir(), 'gp-opt-')) }) });

test('gridpulse optimize backtest --json emits the four plans (cost, co2Kg), savingsPct and pctOfPerfect', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gp-prices-'));
  const file = path.join(dir, 'prices.csv');
  // three days: $20/MWh at night, $150/MWh 17:00–21:00 New York time (EST, −05:00)
  const rows = Array.from({ length: 72 }, (_, i) => {
    const ts = new Date(Date.UTC(2025, 0, 6, 5 + i));
    const local = (ts.getUTCHours() + 19) % 24;
    return `${ts.toISOString()},${local >= 17 && local < 21 ? 150 : local < 6 ? 20 : 40}`;
  });
  writeFileSync(file, `ts,price\n${rows.join('\n')}\n`);
  const { stdout } = await run(['optimize', 'backtest', '--prices', file, '--battery', 'capacity=10,power=5,efficiency=0.9', '--load', 'constant:1.5', '--json']);
  const r = JSON.parse(stdout);
  for (const k of ['noBattery', 'rule', 'optimized', 'perfect']) {
    assert.equal(typeof r[k].cost, 'number', k);
    assert.ok('co2Kg' in r[k], k);
  }
  assert.equal(r.noBattery.co2Kg, null); // no --ba or --intensity: CO2 not counted, and the params say so
  assert.match(r.params.intensitySource, /CO2 not counted/);
  assert.ok(r.savingsPct > 10, String(r.savingsPct));
  assert.ok(r.pctOfPerfect > 90 && r.pctOfPerfect <= 100 + 1e-9, String(r.pctOfPerfect));
  assert.ok(r.perfect.cost <= r.optimized.cost + 1e-9 && r.optimized.cost <= r.rule.cost + 1e-9);
  const text = (await run(['optimize', 'backtest', '--prices', file])).stdout;
  assert.match(text, /savingsPct \d+\.\d %/);
});

test('bad flags stop with one line naming the flag', async () => {
  await assert.rejects(run(['optimize', 'backtest', '--battery', 'capacity=10']), (e: { code: number; stderr: string }) => e.code === 1 && /--prices FILE or --node NAME/.test(e.stderr));
  assert.throws(() => parseBattery('capacity=10,power=5,efficiency=1.5'), /efficiency/);
  assert.throws(() => parseBattery('size=3'), /unknown field "size"/);
  assert.deepEqual(parseBattery('capacity=13.5,power=5,efficiency=0.81,reserve=1'), {
    capacityKWh: 13.5, powerKW: 5, chargeEfficiency: 0.9, dischargeEfficiency: 0.9, reserveKWh: 1, roundTripEfficiency: 0.81,
  });
});
