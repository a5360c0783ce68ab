import { benchUpsert } from './upsert.ts';
import { benchQuery } from './query.ts';
import { benchSize } from './size.ts';
import { benchIngest } from './ingest.ts';
import { benchHttp } from './http.ts';
import { benchIntensityYear } from './intensity-year.ts';
import { benchEgrid } from './egrid.ts';
import { benchEgridImport } from './egrid-import.ts';
import { benchOffLoop } from './offloop.ts';
import { benchRateLimit } from './rate-limit.ts';
import { benchAuth } from './auth.ts';
import { benchFill } from './fill.ts';
import { benchAlerts } from './alerts.ts';
import { benchOptimizer } from './optimizer.ts';
import { benchFleetFanout } from './fleet-fanout.ts';
import { benchFleetLedger } from './fleet-ledger.ts';
import { benchFleetPages } from './fleet-pages.ts';
import { benchFleetAcks } from './fleet-acks.ts';
import { benchTracing } from './tracing.ts';

/** `npm run bench -- [name…]`: runs the named benchmarks, or all of them, in order. */
const benches: Record<string, () => Promise<void>> = {
  upsert: benchUpsert,
  query: benchQuery,
  size: benchSize,
  ingest: benchIngest,
  http: benchHttp,
  intensity: benchIntensityYear,
  'egrid-analytics': benchEgrid,
  egrid: benchEgridImport,
  offloop: benchOffLoop,
  'rate-limit': benchRateLimit,
  auth: benchAuth,
  fill: benchFill,
  alerts: benchAlerts,
  optimizer: benchOptimizer,
  'fleet-fanout': benchFleetFanout,
  'fleet-ledger': benchFleetLedger,
  'fleet-pages': benchFleetPages,
  'fleet-acks': benchFleetAcks,
  tracing: benchTracing,
};

const names = process.argv.slice(2);
for (const name of names) {
  if (!benches[name]) {
    console.error(`unknown bench ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
}
for (const name of names.length ? names : Object.keys(benches)) {
  const t0 = performance.now();
  await benches[name]!();
  console.log(`\n(${name} took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
