import { z } from 'zod';

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  EIA_API_URL: z.url().default('https://api.eia.gov/v2'),
  EIA_API_KEY: z.string().min(8, 'an EIA API key (register at eia.gov/opendata)').optional(),
  INGEST_CRON: z.string().regex(/^\S+(\s+\S+){4,5}$/, 'a cron expression such as "15 * * * *"').default('15 * * * *'),
  FORECAST_CRON: z.string().regex(/^\S+(\s+\S+){4,5}$/, 'a cron expression such as "40 * * * *"').default('40 * * * *'),
  DAILY_CRON: z.string().regex(/^\S+(\s+\S+){4,5}$/, 'a cron expression such as "0 1 * * *"').default('0 1 * * *'),
  RAW_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  METRICS_TOKEN: z.string().regex(/^\S{16,}$/, 'at least 16 characters, no spaces').optional(),
  GRIDPULSE_API_URL: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as http://gridpulse.lan:3000' }).optional().describe('`gridpulse worker --remote`: the GridPulse server the off-site worker writes to'),
  GRIDPULSE_API_KEY: z.string().regex(/^gp_[0-9a-f]{12}_\S+$/, 'a worker key as printed by `gridpulse keys create --role worker` (gp_…)').optional(),
  WEBHOOK_ALLOW_PRIVATE: z.enum(['0', '1']).default('0').describe('1: alert webhooks may target loopback and private addresses (an administrator\'s allowance, e.g. for a receiver on the LAN)'),
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'the site\'s public http(s) URL, e.g. https://gridpulse.example.org' }).optional().describe('where people reach the site: links printed by the CLI'),
  AUTH_JWT_ALG: z.enum(['EdDSA', 'ES256']).default('EdDSA').describe('the one algorithm access tokens are signed and verified with'),
  AUTH_ISSUER: z.string().min(1).max(200).default('gridpulse').describe('the iss of access tokens (e.g. this server\'s public URL)'),
  AUTH_AUDIENCE: z.string().min(1).max(200).default('gridpulse-api').describe('the aud of access tokens'),
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
