import { z } from 'zod';

const WINDOW_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A rate limit: at most `max` requests per `windowMs` milliseconds for one IP, user or key. */
export interface RateLimitSpec { readonly max: number; readonly windowMs: number }

/** `600/1m`, `10/30s`, `5000/1h` (requests per window; the window's count defaults to 1: `60/m`). */
const rateLimit = (fallback: string) => z.string()
  .regex(/^[1-9]\d{0,6}\/(?:[1-9]\d{0,3})?[smh]$/, 'requests per window such as 600/1m, 10/30s or 5000/1h')
  .transform((text): RateLimitSpec => {
    const [, max, count, unit] = /^(\d+)\/(\d*)([smh])$/.exec(text)!;
    return Object.freeze({ max: Number(max), windowMs: Number(count || 1) * WINDOW_UNITS_MS[unit as keyof typeof WINDOW_UNITS_MS] });
  }).prefault(fallback);

/** Addresses of the reverse proxies whose X-Forwarded-For is believed: IPs, CIDRs, or proxy-addr's names. */
const proxyEntry = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6(), z.enum(['loopback', 'linklocal', 'uniquelocal'])],
  { error: (issue) => `'${String(issue.input)}' is not an IP, a CIDR (10.0.0.0/8) or loopback, linklocal, uniquelocal` });
const trustProxy = z.string()
  .transform((text) => text.split(',').map((s) => s.trim()).filter((s) => s !== ''))
  .pipe(z.array(proxyEntry))
  .transform((list) => Object.freeze(list) as readonly string[]).prefault('');

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATABASE_REPLICA_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional().describe('a streaming replica of DATABASE_URL: read-only statements go there while it is within REPLICA_MAX_LAG_MS'),
  REPLICA_MAX_LAG_MS: z.coerce.number().int().min(100).max(600_000).default(5000).describe('the most a replica read may lag behind the primary, ms'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  EIA_API_URL: z.url().default('https://api.eia.gov/v2'),
  EIA_API_KEY: z.string().min(8, 'an EIA API key (register at eia.gov/opendata)').optional(),
  EIA_MIN_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(250).describe('the least time between two EIA requests of one process, ms (EIA asks clients to pace their calls; 0 for a local mirror or a test stand-in)'),
  INGEST_CRON: z.string().regex(/^\S+(\s+\S+){4,5}$/, 'a cron expression such as "15 * * * *"').default('15 * * * *'),
  FORECAST_CRON: z.string().regex(/^\S+(\s+\S+){4,5}$/, 'a cron expression such as "40 * * * *"').default('40 * * * *'),
  DAILY_CRON: z.string().regex(/^\S+(\s+\S+){4,5}$/, 'a cron expression such as "0 1 * * *"').default('0 1 * * *'),
  HISTORY_DAYS: z.coerce.number().int().min(1).max(3650).default(28).describe('days of history the first fill covers (the store\'s intended span starts this far before its first start)'),
  RAW_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  METRICS_TOKEN: z.string().regex(/^\S{16,}$/, 'at least 16 characters, no spaces').optional(),
  GRIDPULSE_API_URL: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as http://gridpulse.lan:3000' }).optional().describe('`gridpulse worker --remote`: the GridPulse server the off-site worker writes to'),
  GRIDPULSE_API_KEY: z.string().regex(/^gp_[0-9a-f]{12}_\S+$/, 'a worker key as printed by `gridpulse keys create --kind worker` (gp_…)').optional(),
  TRUST_PROXY: trustProxy,
  RATE_LIMITS: z.enum(['on', 'off']).default('on'),
  RATE_LIMIT_READ: rateLimit('1200/1m'),
  RATE_LIMIT_WRITE: rateLimit('120/1m'),
  RATE_LIMIT_AUTH: rateLimit('20/1m'),
  WEBHOOK_ALLOW_PRIVATE: z.enum(['0', '1']).default('0').describe('1: alert webhooks may target loopback and private addresses (an administrator\'s allowance, e.g. for a receiver on the LAN)'),
  AUTH_JWT_ALG: z.enum(['EdDSA', 'ES256']).default('EdDSA').describe('the one algorithm access tokens are signed and verified with'),
  AUTH_ISSUER: z.string().min(1).max(200).default('gridpulse').describe('the iss of access tokens (e.g. this server\'s public URL)'),
  AUTH_AUDIENCE: z.string().min(1).max(200).default('gridpulse-api').describe('the aud of access tokens'),
  EGRID_UPLOAD_MAX_BYTES: z.coerce.number().int().min(1024).max(2 ** 40).default(150 * 1024 * 1024).describe('largest eGRID upload accepted, bytes (413 beyond)'),
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'the site\'s address as visitors reach it, such as https://grid.example.org' }).optional().describe('The address visitors reach the site at: the embed and badge snippets and the sign-in links the CLI prints name it (default: the request\'s Host)'),
  MQTT_URL: z.string().regex(/^mqtts?:\/\/\S+$/, 'an mqtt:// or mqtts:// URL such as mqtt://broker.lan:1883').optional().describe('the device bus: an external MQTT 5 broker (Mosquitto with dynamic security, EMQX, HiveMQ); absent, an embedded broker on MQTT_PORT'),
  MQTT_PORT: z.coerce.number().int().min(0).max(65535).default(1884).describe('the embedded MQTT broker\'s port (without MQTT_URL); it listens on HOST'),
  DEMO_FLEET: z.coerce.number().int().min(0).max(1_000).default(20).describe('`start` on the embedded broker: how many labelled SIMULATED battery agents it runs as a demo fleet (0 = none)'),
  MQTT_ADMIN_USERNAME: z.string().min(1).max(200).optional().describe('Mosquitto dynamic-security admin account: GridPulse creates device accounts with it'),
  MQTT_ADMIN_PASSWORD: z.string().min(1).max(200).optional(),
  MQTT_GATEWAY_USERNAME: z.string().min(1).max(200).optional().describe('the gateway\'s broker account (default gridpulse-gateway, its password derived from the admin\'s; created when missing, its password set only when a connect is refused)'),
  MQTT_GATEWAY_PASSWORD: z.string().min(1).max(200).optional(),
  MQTT_GATEWAY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _').optional().describe('the gateway\'s MQTT client id: keep it across restarts, one per gateway copy (default gridpulse-gateway-<hostname>, which changes when a container is recreated)'),
  MQTT_GATEWAY_GROUP: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _').default('gateway').describe('the gateways\' MQTT 5 shared-subscription group ($share/<group>/…): every copy of one deployment uses the same; two deployments on one broker need two'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'an OTLP/HTTP collector base URL such as http://otel-collector:4318' }).optional().describe('OpenTelemetry: spans are sent (OTLP/HTTP JSON) to <endpoint>/v1/traces; unset, no spans are made'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Readonly<z.infer<typeof schema>>;

export class ConfigError extends Error {}

/** Parses the environment once; a bad value throws one line naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`invalid configuration: ${issue.path.join('.')}: ${issue.message}`);
  }
  return Object.freeze(parsed.data);
}
