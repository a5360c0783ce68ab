import type { Logger } from 'pino';
import { onInterrupt } from './interrupts.ts';
import { within } from './within.ts';

/** How long one close step (Redis quit, database close, span flush) may take before the stop moves on (ms). */
export const CLOSE_STEP_MS = 3_000;
/**
 * How long a draining step (the running job's batch, open HTTP and SSE requests, the gateway's batch in hand) may take
 * (ms). The drain steps and the close steps together stay inside compose's stop_grace_period (40 s).
 */
export const DRAIN_STEP_MS = 20_000;

/** One step of a process's stop: `name` is what the log line calls it (`database`, `cache`, `tracing`…). */
export interface ShutdownStep {
  name: string;
  run: () => unknown;
  /** its bound in ms (default CLOSE_STEP_MS) */
  timeoutMs?: number;
}

/** A step that failed or ran out of time: its name and why. */
export interface FailedStep { step: string; error: string }

/**
 * Runs a stop's steps one after another, each best-effort and bounded: a step that throws, rejects or outlives its
 * bound (timeoutMs, default CLOSE_STEP_MS) is logged as one warn line `shutdown step failed` with `{ step, err, ms }`
 * (the message, no stack) and the next step runs all the same — a dead Redis must not keep the database open, a
 * hung collector must not keep the process alive. A step cut by its bound keeps running in the background; the
 * caller exits soon after. Resolves (never rejects) with the failed steps, in order.
 */
export async function runShutdown(steps: readonly ShutdownStep[], logger: Pick<Logger, 'warn'>): Promise<FailedStep[]> {
  const failed: FailedStep[] = [];
  for (const s of steps) {
    const started = Date.now();
    const bound = s.timeoutMs ?? CLOSE_STEP_MS;
    try {
      await within(Promise.resolve().then(s.run), bound, `did not finish within ${bound} ms`);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      failed.push({ step: s.name, error });
      logger.warn({ step: s.name, err: error, ms: Date.now() - started }, 'shutdown step failed');
    }
  }
  return failed;
}

/** How long a stop asked for while the role is still starting waits for the start to finish (ms). */
export const START_WAIT_MS = 5_000;

/**
 * The stop of a long-running role (web, worker, gateway, start), armed before the role starts: on the first SIGINT or
 * SIGTERM (interrupts.ts: a second one exits 130 at once) it runs the steps given to `started` through runShutdown,
 * logs `stopped` (info, naming the steps that failed, if any) and exits 0 — the stop was asked for and done, even when
 * a step could not finish. A signal that arrives while the role is still starting (migrations, connections, the
 * listen) waits for `started` at most START_WAIT_MS, then stops what has started: a service manager's stop during a
 * slow start is a clean stop, never the signal's default death. `steps` may be a function, read when the signal comes
 * (for parts started later).
 */
export function armStop(logger: Pick<Logger, 'warn' | 'info'>, exit: (code: number) => void = (c) => process.exit(c)):
  { started(steps: readonly ShutdownStep[] | (() => readonly ShutdownStep[])): void; off(): void } {
  let steps: () => readonly ShutdownStep[] = () => [];
  let markStarted: () => void = () => {};
  let isStarted = false;
  const started = new Promise<void>((resolve) => { markStarted = resolve; });
  const off = onInterrupt(async () => {
    if (!isStarted) logger.info('stop asked for while starting: stopping once started');
    await within(started, START_WAIT_MS, `the start did not finish within ${START_WAIT_MS} ms`)
      .catch((err: unknown) => { logger.warn({ err: (err as Error).message }, 'stopping a role that had not finished starting'); });
    const failed = await runShutdown(steps(), logger);
    logger.info(failed.length ? { failedSteps: failed.map((f) => f.step) } : {}, 'stopped');
    exit(0);
  });
  return {
    started(s) { steps = typeof s === 'function' ? s : () => s; isStarted = true; markStarted(); },
    off,
  };
}
