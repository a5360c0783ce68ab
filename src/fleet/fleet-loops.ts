import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { FleetBus, FleetLoopOptions } from './contract.ts';
import { loopSettings, republishDue, sweepTimeouts } from './distribution.ts';
import { runRollouts } from './rollouts.ts';

export interface FleetLoops {
  /** runs one round of every loop now (tests; the timer keeps going) */
  tick(): Promise<void>;
  /** stops the timer and waits for the round in progress */
  stop(): Promise<void>;
}

/**
 * The fleet's background work, one round per tickMs: the rollout runner, the re-publisher of unacknowledged
 * versions, and the timeout sweep. Start it in every process that has a FleetBus (web/start and each gateway:
 * fleet-bus wires it); the copies share the work through row locks (SKIP LOCKED), never doing it twice. A round
 * that fails is logged and the next one runs; rounds never overlap within a process.
 */
export function startFleetLoops(db: Db, bus: FleetBus, logger: Logger, options: FleetLoopOptions = {}): FleetLoops {
  const s = loopSettings(options);
  const log = logger.child({ job: 'fleet-loops' });
  let running: Promise<void> | undefined;
  let stopped = false;
  const round = async () => {
    for (const [name, step] of [
      ['rollouts', () => runRollouts(db, bus, s, log)],
      ['republish', () => republishDue(db, bus, s, log)],
      ['timeouts', () => sweepTimeouts(db, s).then((n) => { if (n) log.info({ timedOut: n }, 'schedule versions timed out'); return n; })],
    ] as const) {
      if (stopped) return;
      try { await step(); } catch (err) { log.error({ err: (err as Error).message, loop: name }, 'fleet loop round failed; the next round retries'); }
    }
  };
  const tick = () => (running ??= round().finally(() => { running = undefined; }));
  const timer = setInterval(() => { void tick(); }, s.tickMs);
  timer.unref();
  return {
    tick,
    stop: async () => { stopped = true; clearInterval(timer); await running; },
  };
}
