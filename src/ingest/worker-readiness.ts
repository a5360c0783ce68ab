import type { Metrics } from '../platform/metrics.ts';
import type { Readiness } from '../platform/readiness.ts';
import type { LastRun } from './scheduler.ts';

/**
 * The worker's own readiness checks, both degraded-only (the worker keeps running and retries): `jobs` names the
 * jobs whose latest run in this process failed; `eia` reports the EIA circuit breaker open (read from
 * `gridpulse_eia_circuit_open` in this process's registry).
 */
export function addWorkerChecks(readiness: Readiness, lastRuns: ReadonlyMap<string, LastRun>, metrics: Metrics): Readiness {
  return readiness
    .add('jobs', async () => {
      const failed = [...lastRuns].filter(([, r]) => r.outcome === 'failed').map(([job, r]) => `${job} at ${r.at.toISOString()}`);
      return failed.length ? { degraded: `last run failed: ${failed.join(', ')}` } : undefined;
    }, { critical: false })
    .add('eia', async () => {
      const open = (await metrics.registry.getSingleMetric('gridpulse_eia_circuit_open')?.get())?.values[0]?.value;
      return open === 1 ? { degraded: 'EIA circuit breaker open: EIA failed repeatedly, requests pause until the cooldown ends' } : undefined;
    }, { critical: false });
}
