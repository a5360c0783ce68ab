import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { gridpulseEnv } from '../../test/support/gridpulse-process.ts';
import { sharedPath } from '../../test/support/shared-data.ts';
import { localMidnight } from '../grid/local-day.ts';
import { marketDayStart, marketsSimulate, PJM_TIME_ZONE, type MarketsSimulateOptions } from './markets-command.ts';
import { optimizeBacktestCommand } from './optimize-command.ts';
import { pricesImportCommand } from './prices-command.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const run = (args: string[], dataDir = mkdtempSync(path.join(tmpdir(), 'gp-mkt-'))) =>
  promisify(execFile)(process.execPath, [MAIN, ...args], { env: gridpulseEnv({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' }) });

const dir = mkdtempSync(path.join(tmpdir(), 'gp-mkt-files-'));
const DA = sharedPath('prices', 'pjm', 'pjm_western_hub_da_hrl_lmps_2024.csv');
const RT = sharedPath('prices', 'pjm', 'pjm_western_hub_rt_hrl_lmps_2024.csv');
/** the first `rows` data rows of a PJM export, as a small file of the same market */
function head(file: string, rows: number): string {
  const out = path.join(dir, `head-${rows}-${path.basename(file)}`);
  writeFileSync(out, `${readLines(file).slice(0, rows + 1).join('\n')}\n`);
  return out;
}
const readLines = (file: string) => readFileSync(file, 'utf8').split(/\r?\n/);
/** `--some-flag value …` as the camel-cased options object commander makes */
const flags = (args: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) out[args[i]!.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = args[i + 1]!;
  return out;
};

test('a market day starts at local midnight of the market\'s zone: UTC−5 in winter, −4 in summer (PJM), unless --utc-offset fixes it', () => {
  assert.equal(marketDayStart('2024-02-03', {}).toISOString(), '2024-02-03T05:00:00.000Z');
  assert.equal(marketDayStart('2024-07-03', {}).toISOString(), '2024-07-03T04:00:00.000Z');
  assert.equal(marketDayStart('2024-07-03', { timeZone: 'America/Chicago' }).toISOString(), '2024-07-03T05:00:00.000Z');
  assert.equal(marketDayStart('2024-02-03', { utcOffset: '-4' }).toISOString(), '2024-02-03T04:00:00.000Z');
  fc.assert(fc.property(fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-30T00:00:00Z'), noInvalidDate: true }), (d) => {
    const day = d.toISOString().slice(0, 10);
    const start = marketDayStart(day, {});
    const offsetH = (Date.parse(`${day}T00:00:00Z`) - start.getTime()) / 3_600_000;
    assert.ok(offsetH === -5 || offsetH === -4, `${day}: ${offsetH}`);
    assert.equal(start.getTime(), localMidnight(day, PJM_TIME_ZONE).getTime());
    // Intl's own wall clock at that instant reads midnight of the day
    const wall = new Intl.DateTimeFormat('en-CA', { timeZone: PJM_TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' }).format(start);
    assert.equal(wall, `${day}, 00`);
  }));
  assert.throws(() => marketDayStart('2024-02-03', { utcOffset: '-4', timeZone: 'UTC' }), /^RangeError: --utc-offset/);
  assert.throws(() => marketDayStart('2024-02-03', { utcOffset: '1.5' }), /^RangeError: --utc-offset/);
  assert.throws(() => marketDayStart('2024-02-03', { timeZone: 'Mars/Base' }), /^RangeError: --time-zone/);
});

test('every bad option of markets simulate, optimize backtest and prices import stops with exit 1 and one line naming it', async () => {
  const plain = path.join(dir, 'plain.csv');
  writeFileSync(plain, 'ts,price\n2024-07-01T00:00:00Z,20\n2024-07-01T01:00:00Z,25\n');
  const da = head(DA, 48), rt = head(RT, 48);
  const cases: Array<[string[], string]> = [
    [['markets', 'simulate', '--prices', da, '--day', '2024-02-30'], '--day'],
    [['markets', 'simulate', '--prices', da, '--day', '2024-01-01', '--utc-offset', '1.5'], '--utc-offset'],
    [['markets', 'simulate', '--prices', da, '--day', '2024-01-01', '--devices', '0'], '--devices'],
    [['markets', 'simulate', '--prices', da, '--day', '2024-01-01', '--devices', '1e3'], '--devices'],
    [['markets', 'simulate', '--prices', da, '--day', '2024-01-01', '--offline-share', '2'], '--offline-share'],
    [['markets', 'simulate', '--prices', da, '--day', '2024-01-01', '--time-zone', 'Mars/Base'], '--time-zone'],
    [['markets', 'simulate', '--prices', path.join(dir, 'absent.csv'), '--day', '2024-01-01'], '--prices'],
    [['markets', 'simulate', '--prices', rt, '--day', '2024-01-01'], '--prices'],
    [['markets', 'simulate', '--prices', da, '--rt', da, '--day', '2024-01-01'], '--rt'],
    [['markets', 'simulate', '--prices', da, '--day', '2024-03-01'], '--prices'],
    [['optimize', 'backtest', '--prices', da, '--from', '2024-02-30'], '--from'],
    [['optimize', 'backtest', '--prices', da, '--from', '2024-01-02', '--to', '2024-01-01'], '--to'],
    [['optimize', 'backtest', '--prices', da, '--load', 'constant:-50'], '--load'],
    [['optimize', 'backtest', '--prices', da, '--load', 'constant:'], '--load'],
    [['optimize', 'backtest', '--prices', da, '--load', path.join(dir, 'absent-load.csv')], '--load'],
    [['optimize', 'backtest', '--prices', path.join(dir, 'absent.csv')], '--prices'],
    [['optimize', 'backtest', '--prices', da, '--market', 'rt'], '--market'],
    [['optimize', 'backtest', '--node', 'WESTERN HUB', '--market', 'intraday', '--from', '2024-01-01', '--to', '2024-01-02'], '--market'],
    [['optimize', 'backtest', '--prices', rt, '--day-ahead', rt], '--day-ahead'],
    [['optimize', 'backtest', '--prices', da, '--time-zone', 'Nowhere/Town'], '--time-zone'],
    [['optimize', 'backtest', '--prices', da, '--carbon-price', 'lots'], '--carbon-price'],
    [['optimize', 'backtest', '--prices', da, '--from', '2025-01-01'], '--prices'],
    [['prices', 'import', path.join(dir, 'absent.csv'), '--node', 'X', '--ba', 'PJM'], 'FILE'],
    [['prices', 'import', plain, '--node', 'X', '--ba', 'PJM'], '--market'],
    [['prices', 'import', plain, '--node', 'X', '--ba', 'PJM', '--market', 'spot'], '--market'],
    [['prices', 'import', rt, '--market', 'da'], '--market'],
    [['prices', 'import', plain, '--node', '!!!', '--ba', 'PJM', '--market', 'da'], '--node'],
    [['prices', 'import', plain, '--node', 'X', '--ba', 'P J M', '--market', 'da'], '--ba'],
  ];
  // in process (the actions commander calls), then three through the real CLI: exit 1, one line on stderr
  const commands: Record<string, (args: string[]) => Promise<number>> = {
    'markets simulate': (a) => marketsSimulate({ devices: '1000', offlineShare: '0.05', ...flags(a) } as unknown as MarketsSimulateOptions),
    'optimize backtest': (a) => optimizeBacktestCommand(flags(a)),
    'prices import': (a) => pricesImportCommand(a[0]!, flags(a.slice(1))),
  };
  for (const [args, option] of cases) {
    const what = args.join(' ');
    await assert.rejects(commands[args.slice(0, 2).join(' ')]!(args.slice(2)), (e: Error) => {
      assert.ok(e instanceof RangeError, `${what}: ${e.stack}`);
      assert.ok(e.message.startsWith(`${option}`), `${what}: names ${option}: ${e.message}`);
      assert.doesNotMatch(e.message, /\n|ENOENT|the period holds no priced hours/, what);
      return true;
    });
  }
  // (an unknown BA is found in the database: the CLI's own, in its DATA_DIR)
  const unknownBa: [string[], string] = [['prices', 'import', plain, '--node', 'X', '--ba', 'NOPE', '--market', 'da'], '--ba'];
  for (const [args, option] of [cases[0]!, cases[12]!, unknownBa]) {
    await assert.rejects(run(args), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1, `${args.join(' ')}: exit ${e.code}\n${e.stderr}`);
      assert.match(e.stderr, new RegExp(`^gridpulse: ${option}[^\n]*\n$`), args.join(' '));
      return true;
    });
  }
});

test('optimize backtest --from a date starts at that day\'s local midnight, and says so when the prices start later', async () => {
  const file = path.join(dir, 'gap.csv');
  // prices from 2023-07-02 00:00 New York time (04:00Z): none on 07-01, as in PJM's 2023 Western Hub file
  const rows = Array.from({ length: 48 }, (_, i) => `${new Date(Date.UTC(2023, 6, 2, 4 + i)).toISOString()},${20 + (i % 24)}`);
  writeFileSync(file, `ts,price\n${rows.join('\n')}\n`);
  const late = await run(['optimize', 'backtest', '--prices', file, '--from', '2023-07-01', '--json']);
  const r = JSON.parse(late.stdout);
  assert.equal(r.params.from, '2023-07-02T04:00:00.000Z');
  assert.match(r.params.firstHourNote, /first planned hour 2023-07-02T04:00:00.000Z, not --from 2023-07-01T04:00:00.000Z/);
  assert.match(late.stderr, /first planned hour 2023-07-02T04:00/);
  const onTime = JSON.parse((await run(['optimize', 'backtest', '--prices', file, '--from', '2023-07-02', '--json'])).stdout);
  assert.equal(onTime.params.from, '2023-07-02T04:00:00.000Z', 'a date is the local midnight starting it');
  assert.equal(onTime.params.firstHourNote, undefined);
});

test('prices import: a PJM real-time export after the day-ahead one goes to its own series; the day-ahead prices are untouched', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gp-mkt-db-'));
  const da = head(DA, 24), rt = head(RT, 24);
  const first = JSON.parse((await run(['prices', 'import', da, '--node', 'WESTERN_HUB', '--json'], dataDir)).stdout);
  assert.deepEqual([first.series, first.market, first.inserted, first.updated], ['PJM.price.WESTERN_HUB', 'da', 24, 0]);
  const second = JSON.parse((await run(['prices', 'import', rt, '--node', 'WESTERN_HUB', '--json'], dataDir)).stdout);
  assert.deepEqual([second.series, second.market, second.inserted, second.updated], ['PJM.price.WESTERN_HUB.RT', 'rt', 24, 0], 'nothing changed in the day-ahead series');
  const again = JSON.parse((await run(['prices', 'import', da, '--node', 'WESTERN_HUB', '--json'], dataDir)).stdout);
  assert.deepEqual([again.inserted, again.updated], [0, 0], 'the day-ahead prices are still the day-ahead file\'s');
  // a backtest on the stored real-time series pays real-time prices and plans on the day-ahead series
  const bt = JSON.parse((await run(['optimize', 'backtest', '--node', 'WESTERN HUB', '--market', 'rt', '--from', '2024-01-01T05:00:00Z', '--to', '2024-01-02T05:00:00Z', '--json'], dataDir)).stdout);
  assert.match(bt.params.prices, /PJM\.price\.WESTERN_HUB\.RT \(real-time, paid\); plans made on the day-ahead series PJM\.price\.WESTERN_HUB/);
  assert.equal(bt.hours, 24);
});
