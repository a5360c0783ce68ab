/**
 * The API reference's sections (OpenAPI tags): every operation sits under the domain it belongs to, never
 * under swagger-ui's "default". A route may name its own `schema.tags`; otherwise its path decides here, in
 * one table, first match wins. A new route outside every rule shows up untagged, and test/openapi-docs.test.ts
 * fails until it is placed.
 */
export interface ApiTag { name: string; description: string; paths: RegExp[] }

const V1 = '/api/v1';
const under = (prefix: string) => new RegExp(`^${V1}${prefix}(/|$)`);
const exactly = (path: string) => new RegExp(`^${V1}${path.replace(/[{}]/g, '\\$&')}$`);

export const API_TAGS: readonly ApiTag[] = [
  { name: 'grid', description: 'Balancing authorities and their hourly EIA-930 series as stored: demand, forecast, generation by fuel, interchange.',
    paths: [exactly('/bas'), exactly('/bas/{code}'), exactly('/series'), exactly('/observations'), exactly('/bas/{code}/hourly')] },
  { name: 'intensity', description: 'Carbon intensity (gCO2eq/kWh), production and consumption based, from the fuel mix and emission factors.',
    paths: [exactly('/now'), exactly('/bas/{code}/now'), exactly('/bas/{code}/intensity'), exactly('/emission-factors')] },
  { name: 'clean window', description: 'When to use power: the cleanest hours ahead (forecast) or behind (history), and the answer in words.',
    paths: [exactly('/bas/{code}/clean-window'), exactly('/bas/{code}/answer')] },
  { name: 'carbon aware', description: 'Green Software Foundation Carbon Aware SDK compatible endpoints (emissions by location, forecasts, averages).',
    paths: [under('/emissions')] },
  { name: 'daily', description: 'Each BA-local day summed up: the Daily Pulse, its baselines (prior weeks, last year) and the duck curve.',
    paths: [exactly('/bas/{code}/pulse'), exactly('/bas/{code}/baseline'), exactly('/bas/{code}/duck')] },
  { name: 'forecast', description: 'GridPulse\'s 48-hour demand and intensity forecasts and how accurate the stored ones were.',
    paths: [under('/bas/{code}/forecast')] },
  { name: 'pipeline', description: 'Ingestion runs, quality-check findings, backfills and the freshness of every series.',
    paths: [under('/pipeline'), exactly('/bas/{code}/freshness')] },
  { name: 'data', description: 'The write side for off-site workers (a worker key): runs, observations, and what is already stored.',
    paths: [under('/data')] },
  { name: 'locate', description: 'From a ZIP code, state or point to the balancing authorities (and eGRID subregion) serving it.',
    paths: [under('/locate')] },
  { name: 'egrid', description: 'EPA eGRID power plants: imports, plants, aggregates, emission factors per BA, reports.',
    paths: [under('/egrid')] },
  { name: 'auth', description: 'Signing in: access tokens (EdDSA JWT, 1 h), rotating refresh tokens, sign-out, and the public keys that verify tokens.',
    paths: [under('/auth'), /^\/\.well-known\//] },
  { name: 'account', description: 'The signed-in user: profile, password, sessions, personal API keys, saved views (and their share links) and alerts.',
    paths: [under('/me'), under('/shared'), under('/invitations')] },
  { name: 'saved views', description: 'A signed-in user\'s saved views (BAs, a range, the charts) and their read-only share links.',
    paths: [under('/me/views'), under('/shared/views')] },
  { name: 'alerts', description: 'A signed-in user\'s alert rules, evaluated when new hours land and delivered to a signed webhook, with their delivery log.',
    paths: [under('/me/alerts')] },
  { name: 'admin', description: 'Administrators: users, invitations and the append-only audit log.',
    paths: [under('/admin')] },
  { name: 'live', description: 'Server-sent events: a message each time new hours are stored.',
    paths: [under('/live')] },
  { name: 'embeds', description: 'Badges and embeddable cards for other sites.',
    paths: [/^\/badge\//, /^\/embed\//] },
  { name: 'markets', description: 'The fleet as a virtual power plant: day-ahead market runs, their bids, awards, dispatch and delivery measured from telemetry.',
    paths: [under('/markets')] },
  { name: 'openadr', description: 'The OpenADR 3.0.1 VTN: programs, events (PRICE, GHG, EXPORT_PRICE, DISPATCH_SETPOINT …), reports, subscriptions, VENs and resources, with OAuth2 client-credentials tokens.',
    paths: [/^\/openadr\/3\.0\.1\//] },
  { name: 'fleet', description: 'The battery fleet: devices and groups, versioned schedules with their delivery ledger, rollouts; and the device side (schedule polling, acknowledgements, telemetry) for agents on HTTP.',
    paths: [under('/devices'), under('/device-groups'), under('/schedules'), under('/rollouts'), under('/fleet')] },
  { name: 'optimizer', description: 'Battery plans on price and carbon: the stored backtest against no battery, a rule and perfect foresight, and device savings.',
    paths: [under('/optimizer')] },
  { name: 'meta', description: 'Health, readiness, metrics and this document.',
    paths: [/^\/(healthz|readyz|metrics)$/, exactly('/openapi.json')] },
];

/** The tag of an operation by its path (Fastify syntax `:code` or OpenAPI `{code}`), or undefined when no rule places it. */
export function tagOf(url: string): string | undefined {
  const path = url.replace(/:([A-Za-z_]\w*)/g, '{$1}').split('?')[0]!;
  return API_TAGS.find((t) => t.paths.some((p) => p.test(path)))?.name;
}

/** An OpenAPI route transform's answer with its domain's tag added, unless the route names tags of its own. */
export function addDomainTag<T extends { schema: unknown; url: string }>(out: T): T {
  const schema = (out.schema ?? {}) as { tags?: readonly string[] };
  if (schema.tags?.length) return out;
  const tag = tagOf(out.url);
  return tag ? { ...out, schema: { ...schema, tags: [tag] } } : out;
}
