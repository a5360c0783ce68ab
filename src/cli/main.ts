/**
 * The `gridpulse` command line: every role and command, declared here; each loads its module only when it runs, so a
 * command (or a bad environment value, or --help) answers without loading the web app, the fleet or the optimizer.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { loadConfig, ConfigError } from '../platform/config.ts';
import type { DevicesCreateOptions, DevicesRotateOptions, DevicesSyncBrokerOptions } from './devices-command.ts';
import type { DynsecAdmin } from '../fleet/bus/dynsec-admin.ts';
import type { AgentOptions, SimulateOptions } from './agent-command.ts';
import type { RemoteWorkerOptions } from './remote-worker-command.ts';

if (existsSync('.env')) process.loadEnvFile('.env');

// Run by the npm bin shim (bin/gridpulse.mjs), the CLI holds an IPC channel to it: the channel closing means the shim
// is gone (killed outright, no signal passed on), and the CLI stops as on SIGTERM rather than run on as an orphan
// holding the ports and DATA_DIR's lock. Unreferenced, so it never keeps a finished command alive.
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

/**
 * A command's action from a function of its first argument (its options, or its one positional argument; the rest of
 * what commander passes is not handed on): its exit code, or one line on stderr and exit 1 when it throws.
 */
const exitWith = <A,>(command: (arg: A) => Promise<number>) => async (arg: A): Promise<void> => {
  try { process.exitCode = await command(arg); } catch (err) { fail(err); }
};

function fail(err: unknown): never {
  process.stderr.write(`gridpulse: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exit(1);
}

const program = new Command('gridpulse').description('GridPulse: open platform for the US electricity grid');
// every command and role checks the environment first: a bad value is one line on stderr and exit 1, never a stack
program.hook('preAction', () => { try { loadConfig(); } catch (err) { fail(err); } });
program.command('start').description('every role in one process on the embedded defaults')
  .action(async () => (await import('./roles.ts')).startWeb(loadConfig(), true).catch(fail));
program.command('gateway').description('the MQTT side of the fleet: acks, telemetry and status in (shared subscriptions, batched COPY), schedules out; the embedded broker without MQTT_URL')
  .action(async () => (await import('./gateway-command.ts')).gatewayCommand(loadConfig()).catch(fail));
program.command('web').description('HTTP API and pages').action(async () => (await import('./roles.ts')).startWeb(loadConfig(), false).catch(fail));
program.command('worker').description('scheduled jobs: hourly EIA ingestion (or the simulated grid without a key); with --remote, off-site through the data API')
  .option('--remote <url>', 'run off-site: write to this GridPulse server through its data API only, never its database (or GRIDPULSE_API_URL)')
  .option('--key <key>', 'the worker key for --remote (gridpulse keys create --kind worker on the server; or GRIDPULSE_API_KEY)')
  .option('--spool <path>', 'with --remote: the on-disk outbox that keeps fetched data while GridPulse is unreachable (default DATA_DIR/worker-spool.sqlite)')
  .option('--once', 'with --remote: one hourly pass, then exit (1 if anything is still spooled)')
  .action(async (opts: RemoteWorkerOptions) => {
    try {
      const code = await (await import('./roles.ts')).workerCommand(loadConfig(), opts);
      if (code !== undefined) process.exitCode = code;
    } catch (err) { fail(err); }
  });
program.command('migrate').description('apply pending SQL migrations and exit').action(async () => {
  try {
    const config = loadConfig();
    const [{ openDb }, { migrate }] = await Promise.all([import('../platform/db.ts'), import('../platform/migrate.ts')]);
    const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
    const applied = await migrate(db);
    process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'up to date\n');
    await db.close();
  } catch (err) { fail(err); }
});
program.command('ingest').description('load EIA-930 data for a range of days (resumable: re-running is harmless)')
  .option('--ba <codes>', 'comma-separated BA codes (default: every active BA)')
  .option('--from <YYYY-MM-DD>', 'first UTC day (default: two days ago)')
  .option('--to <YYYY-MM-DD>', 'last UTC day, inclusive (default: today)')
  .option('--routes <list>', 'region,fuel,interchange', 'region,fuel,interchange')
  .option('--replay <path>', 'load recorded EIA-930 data instead of calling EIA: a folder (or file) of EIA v2 JSON responses and gridemissions wide CSV files')
  .option('--resume <run>', 'continue an interrupted run by its ledger id (default: the last interrupted run of the same command)')
  .action(async (opts) => {
    try { process.exitCode = await (await import('./ingest-command.ts')).ingestCommand(opts); } catch (err) { fail(err); }
  });
const keys = program.command('keys').description('API keys (worker, device, personal) and the JWT signing keys');
keys.command('create').description('create a key and print it once (only its hash is stored)')
  .option('--kind <kind>', 'worker (data API), device (fleet) or personal (needs --owner)')
  .option('--role <role>', 'the older spelling of --kind: worker')
  .option('--scope <scope...>', 'scopes (default: data:write for worker, fleet:device for device, me:read for personal)')
  .option('--expires <date>', 'expiry (ISO date or instant); default never')
  .option('--owner <email>', 'the user a personal key acts for')
  .option('--name <name>', 'a label, e.g. the worker host')
  .action(exitWith(async (o) => (await import('./keys-command.ts')).keysCreate(o)));
keys.command('rotate-signing').description('create a new JWT signing key: published in /.well-known/jwks.json at once, signing after 6 min (longer than the JWKS max-age); the previous one signs until then and verifies for 2 h after')
  .option('--alg <alg>', 'EdDSA or ES256 (default AUTH_JWT_ALG)')
  .option('--now', 'the new key signs at once and the old ones retire now (a compromised key); outside verifiers may refuse new tokens until their cached JWKS expires')
  .action(exitWith(async (o) => (await import('./keys-command.ts')).keysRotateSigning(o)));
keys.command('list').description('list keys (never the tokens)')
  .action(async () => { try { process.exitCode = await (await import('./keys-command.ts')).keysList(); } catch (err) { fail(err); } });
keys.command('revoke').description('revoke a key by its id').argument('<id>')
  .action(exitWith(async (id: string) => (await import('./keys-command.ts')).keysRevoke(id)));
const openadr = program.command('openadr').description('the OpenADR 3.0.1 VTN at /openadr/3.0.1');
const clients = openadr.command('clients').description('OAuth2 clients (VENs and utilities\' business logic) that fetch tokens at /openadr/3.0.1/auth/token');
clients.command('create').description('register a client and print its id and secret once (only the secret\'s hash is kept)')
  .requiredOption('--name <name>', 'who the client is').option('--kind <kind>', 'ven or bl (business logic: a utility writing programs and events)', 'ven')
  .option('--scope <scope...>', 'OpenADR scopes (default: all its kind may hold)').option('--json', 'print JSON')
  .action(exitWith(async (o) => (await import('./openadr-command.ts')).openadrClientsCreate(o)));
clients.command('list').description('list clients (never their secrets)').action(exitWith(async () => (await import('./openadr-command.ts')).openadrClientsList()));
clients.command('revoke').description('revoke a client: its tokens stop working at once').argument('<clientId>').action(exitWith(async (id: string) => (await import('./openadr-command.ts')).openadrClientsRevoke(id)));
const markets = program.command('markets').description('the fleet as a virtual power plant in energy markets');
markets.command('simulate').description('one SIMULATED market day: a simulated fleet bids into a day-ahead market built on a real price file, delivers, and is settled')
  .requiredOption('--prices <file>', 'day-ahead prices: PJM Data Miner hourly LMP CSV or ts,price CSV').option('--rt <file>', 'real-time prices that settle imbalances')
  .requiredOption('--day <YYYY-MM-DD>', 'the market day (local)').option('--time-zone <iana>', 'the market\'s time zone; the day starts at its local midnight (default America/New_York, PJM\'s)')
  .option('--utc-offset <hours>', 'instead of --time-zone: the market\'s UTC offset that day (whole hours)')
  .option('--devices <n>', 'simulated batteries (13.5 kWh, 5 kW)', '1000').option('--offline-share <fraction>', 'share of devices going offline during the day', '0.05')
  .option('--node <name>', 'the price node, for the record').option('--json', 'print JSON')
  .action(exitWith(async (o) => (await import('./markets-command.ts')).marketsSimulate(o)));
program.command('agent').description('a battery agent (what runs on each Raspberry Pi): executes its schedule from MQTT or HTTP, keeps running offline')
  .requiredOption('--device-id <id>', 'the device id (= its MQTT username)')
  .addOption(new Option('--key <key>', 'the device\'s HTTP key (gp_…) for the HTTP fallback').env('GRIDPULSE_DEVICE_KEY'))
  .addOption(new Option('--mqtt-password <password>', 'the device\'s broker password').env('GRIDPULSE_MQTT_PASSWORD'))
  .addOption(new Option('--broker <url>', 'the MQTT broker, mqtt://host:port').env('MQTT_URL'))
  .addOption(new Option('--api <url>', 'GridPulse\'s base URL for the HTTP fallback').env('GRIDPULSE_API_URL'))
  .option('--store <path>', 'the agent\'s SQLite store (default DATA_DIR/agent-<id>.sqlite)')
  .option('--fallback <rule>', 'what runs before the first schedule: hold-soc, idle or self-consumption (default hold-soc)')
  .option('--capacity-kwh <kWh>', 'the simulated battery\'s usable capacity (default 13.5)')
  .option('--power-kw <kW>', 'the simulated battery\'s charge and discharge rating (default 5)')
  .action(exitWith((opts: Omit<AgentOptions, 'dataDir' | 'logLevel'>) => { const c = loadConfig(); return import('./agent-command.ts').then((m) => m.agentCommand({ ...opts, dataDir: c.DATA_DIR, logLevel: c.LOG_LEVEL })); }));
program.command('simulate').description('many SIMULATED battery agents in one process on real MQTT connections (tests, benchmarks, demos)')
  .requiredOption('--devices <n>', 'how many devices')
  .addOption(new Option('--broker <url>', 'the MQTT broker, mqtt://host:port').env('MQTT_URL').default('mqtt://127.0.0.1:1884'))
  .addOption(new Option('--api <url>', 'GridPulse\'s base URL for the agents\' HTTP fallback (needs --credentials with apiKey)').env('GRIDPULSE_API_URL'))
  .option('--offline-rate <share>', 'share of devices dropping their connection each minute, 0–1 (default 0)')
  .option('--credentials <file>', 'devices and secrets: the JSON lines of `gridpulse devices create --json` (or a JSON array)')
  .option('--prefix <prefix>', 'device id prefix without --credentials', 'sim')
  .action(exitWith(async (opts: Omit<SimulateOptions, 'logLevel'>) => (await import('./agent-command.ts')).simulateCommand({ ...opts, logLevel: loadConfig().LOG_LEVEL })));
const devices = program.command('devices').description('the battery fleet\'s devices');
devices.command('create').description('provision a battery device and print its credentials once (MQTT username/password, HTTP key)')
  .requiredOption('--name <name>', 'a label, e.g. the home or the serial number')
  .option('--id <id>', 'the device id = its MQTT username (lower-case letters, digits, hyphens); generated when absent')
  .option('--capacity-kwh <kWh>', 'usable energy capacity, kWh (default 13.5)')
  .option('--power-kw <kW>', 'maximum charge and discharge power, kW (default 5)')
  .option('--charge-kw <kW>', 'maximum charge power, kW, when it differs')
  .option('--discharge-kw <kW>', 'maximum discharge power, kW, when it differs')
  .option('--reserve-soc <pct>', 'state of charge kept for the home, percent (default 10)')
  .option('--ba <code>', 'the balancing authority it sits in (EIA code such as CISO)')
  .option('--tariff <tariff>', 'the home\'s retail tariff')
  .option('--fallback <rule>', 'hold-soc (default), idle or self-consumption: what the agent does outside its schedule')
  .option('--json', 'print {id, mqttUsername, mqttPassword, apiKey} as JSON')
  .action(exitWith(async (opts: DevicesCreateOptions) => {
    // with MQTT_URL and the dynsec admin account, the device's Mosquitto account is created too
    const [{ devicesCreate }, { cliBrokerAdmin }] = await Promise.all([import('./devices-command.ts'), import('./gateway-command.ts')]);
    let admin: DynsecAdmin | undefined;
    try { return await devicesCreate(opts, async () => (admin = await cliBrokerAdmin(loadConfig()))); } finally { await admin?.close(); }
  }));
devices.command('rotate').description('new credentials for a device (MQTT password and HTTP key), printed once; the old ones stop working')
  .argument('<id>', 'the device id')
  .option('--mqtt-only', 'replace only the MQTT password')
  .option('--api-key-only', 'replace only the HTTP API key')
  .option('--json', 'print {id, mqttUsername, mqttPassword, apiKey} as JSON')
  .action(async (id: string, opts: DevicesRotateOptions) => {
    let admin: DynsecAdmin | undefined;
    try {
      const [{ devicesRotate }, { cliBrokerAdmin }] = await Promise.all([import('./devices-command.ts'), import('./gateway-command.ts')]);
      process.exitCode = await devicesRotate(id, opts, async () => (admin = await cliBrokerAdmin(loadConfig())));
    } catch (err) { fail(err); } finally { await admin?.close(); }
  });
devices.command('sync-broker').description('after switching to Mosquitto: create a broker account for every active device lacking one (each gets a NEW MQTT password, printed once)')
  .option('--dry-run', 'list the devices without an account; change nothing')
  .option('--json', 'one JSON line per device')
  .action(exitWith(async (opts: DevicesSyncBrokerOptions) => {
    const [{ devicesSyncBroker }, { cliBrokerAdmin }] = await Promise.all([import('./devices-command.ts'), import('./gateway-command.ts')]);
    let admin: DynsecAdmin | undefined;
    try { return await devicesSyncBroker(opts, async () => (admin = await cliBrokerAdmin(loadConfig()))); } finally { await admin?.close(); }
  }));
const users = program.command('users').description('accounts: admin, operator, analyst, viewer');
users.command('create').description('create an account; prints a one-time sign-in link unless --password-stdin')
  .requiredOption('--email <email>', 'the e-mail address (unique, any case)')
  .requiredOption('--role <role>', 'admin, operator, analyst or viewer')
  .option('--name <name>', 'display name')
  .option('--password-stdin', 'read the password from standard input (never from the command line)')
  .action(exitWith(async (o) => (await import('./users-command.ts')).usersCreate(o)));
users.command('sign-in-link').description('print a new one-time link (24 h) for the user to set a password').argument('<email>')
  .action(exitWith(async (email: string) => (await import('./users-command.ts')).usersSignInLink(email)));
users.command('disable').description('disable an account: every sign-in ends at once').argument('<email>')
  .action(async (email: string) => { try { process.exitCode = await (await import('./users-command.ts')).usersSetStatus(email, 'disabled'); } catch (err) { fail(err); } });
users.command('enable').description('enable a disabled account').argument('<email>')
  .action(async (email: string) => { try { process.exitCode = await (await import('./users-command.ts')).usersSetStatus(email, 'active'); } catch (err) { fail(err); } });
users.command('list').description('list accounts').action(async () => { try { process.exitCode = await (await import('./users-command.ts')).usersList(); } catch (err) { fail(err); } });
const forecast = program.command('forecast').description('demand and carbon intensity forecasts');
forecast.command('backtest').description('MAPE per BA of the 48-hour forecast vs seasonal naive on held-back days')
  .option('--ba <codes>', 'comma-separated BA codes (default: every BA with enough history)')
  .option('--days <n>', 'held-back days', '14')
  .option('--train-days <n>', 'training window in days (default: the worker\'s: demand 120, intensity 35)')
  .option('--csv <path>', 'backtest demand from EIA-930 CSV files (<BA>.csv: date_time,demand,forecast; UTC hour-ending) instead of the database')
  .option('--replay <path>', 'backtest recorded EIA-930 files (EIA v2 JSON responses, gridemissions wide CSV) replayed into a private in-memory database, up to their newest hour')
  .option('--pjm-fuel <file>', 'backtest the intensity forecast on PJM\'s own hourly generation by fuel (Data Miner 2 gen_by_fuel CSV): production-based, PJM as one BA')
  .option('--origins-per-day <n>', 'forecast origins per held-back day, evenly spread from local midnight (1, 2, 3, 4, 6, 8, 12 or 24)', '1')
  .action(exitWith(async (o) => (await import('./forecast-command.ts')).forecastBacktestCommand(o)));
forecast.command('refresh').description('retrain and store the forecasts now (the worker does this on a schedule)')
  .option('--ba <codes>', 'comma-separated BA codes (default: every active BA)')
  .action(exitWith(async (o) => (await import('./forecast-command.ts')).forecastRefreshCommand(o)));
const backup = program.command('backup').description('backups: base backup + WAL archive for point-in-time recovery, pg_dump for logical copies (README: Operations)');
backup.command('verify').description('restore a pg_dump archive into a scratch database (or open a restored cluster) and check row counts, migrations and the newest hour')
  .option('--dump <file>', 'a pg_dump -Fc archive to restore into a scratch database on the server of --url or DATABASE_URL (dropped afterwards)')
  .option('--url <postgres-url>', 'verify this database as it is (e.g. a point-in-time restore), instead of DATABASE_URL')
  .option('--expect-newest <instant>', 'the newest observation hour the copy must hold (UTC hour start, ISO)')
  .option('--require <tables...>', 'tables that must not be empty (default observations series balancing_authorities)')
  .option('--json', 'print the report as JSON')
  .action(exitWith(async (o) => (await import('./backup-command.ts')).backupVerifyCommand(o)));
const egrid = program.command('egrid').description('EPA eGRID power-plant data');
egrid.command('import').description('import an eGRID CSV or XLSX (plants, units, generators, ST/BA/SRL/NRL/US sheets); re-importing a data year replaces it atomically')
  .argument('<path>', 'the CSV or XLSX file')
  .option('--year <N>', 'import only rows of this data year; the year of sheets that carry none')
  .option('--allow-formulas', 'take the cached values of formula cells instead of refusing the workbook (never evaluated)')
  .option('--max-errors <N>', 'rejected rows printed after the import (up to 100; default 20)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 100) throw new InvalidArgumentError('a whole number from 0 to 100');
    return n;
  })
  .action(async (file: string, opts) => { try { process.exitCode = await (await import('./egrid-command.ts')).egridImportCommand(file, opts); } catch (err) { fail(err); } });
const prices = program.command('prices').description('market price series ($/MWh per node or zone)');
prices.command('import').description('import hourly prices: a CSV (ts with offset, price $/MWh) or a PJM Data Miner hourly LMP export (UTC keys, current rows only)')
  .argument('<file>', 'the price file')
  .option('--node <name>', 'market node or zone (default: the file\'s pnode)')
  .option('--ba <code>', 'balancing authority of the node (default PJM for a PJM export)')
  .option('--market <da|rt>', 'day-ahead or real-time prices: required for a plain CSV (a PJM export says by its total_lmp_da / total_lmp_rt column)')
  .option('--json', 'print the summary as JSON')
  .action(async (file: string, opts) => { try { process.exitCode = await (await import('./prices-command.ts')).pricesImportCommand(file, opts); } catch (err) { fail(err); } });
const optimize = program.command('optimize').description('battery plans against price and carbon (LP on HiGHS)');
optimize.command('backtest').description('replay a past period hour by hour, planning only on what was known, against no battery, the rule and perfect foresight')
  .option('--prices <file>', 'price file (CSV ts,price or PJM Data Miner hourly LMP)')
  .option('--node <name>', 'a stored price series: node name (with --ba) or series key such as PJM.price.WESTERN_HUB')
  .option('--market <da|rt>', 'with --node: the day-ahead (default) or real-time series; real-time is paid and planned on the node\'s day-ahead series')
  .option('--from <instant>', 'first hour (ISO 8601; a date is local midnight in the market\'s time zone)')
  .option('--to <instant>', 'end (exclusive; a date is local midnight)')
  .option('--ba <code>', 'BA whose consumption-based intensity prices carbon (and whose time zone rules the day-ahead publication)')
  .option('--battery <spec>', 'capacity=KWH,power=KW,efficiency=ROUND_TRIP[,reserve=KWH][,soc=KWH]', 'capacity=13.5,power=5,efficiency=0.9')
  .option('--load <spec>', 'FILE (CSV ts,kw) or constant:KW', 'constant:1')
  .option('--carbon-price <usd>', 'USD per tonne CO2', '0')
  .option('--adders <usd>', 'fixed $/kWh added to every imported kWh', '0')
  .option('--export <credit>', 'export credit: same (the import price), none, or a fixed $/kWh', 'same')
  .option('--degradation <usd>', 'battery wear, $ per kWh of throughput', '0')
  .option('--day-ahead <file>', 'with real-time --prices: the day-ahead prices the plans are made on (published 12:00 local the day before)')
  .option('--intensity <file>', 'PJM Data Miner gen_by_fuel CSV: PJM intensity for periods the store does not cover')
  .option('--pareto <list>', 'comma-separated carbon prices ($/t) to sweep: cost against CO2')
  .option('--time-zone <iana>', 'local time of the market (default: the BA\'s, else America/New_York)')
  .option('--save', 'store the result for the savings and Pareto pages')
  .option('--json', 'emit JSON')
  .action(exitWith(async (o) => (await import('./optimize-command.ts')).optimizeBacktestCommand(o)));
await program.parseAsync().catch(fail);
