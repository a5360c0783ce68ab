import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { HOURS_CHANNEL } from '../platform/change-events.ts';
import { parseHoursPayload } from '../analytics/shared/analytics-cache.ts';
import { evaluateAlerts } from './alert-evaluator.ts';
import { FLEET_RULE_KINDS } from './alert-rules.ts';
import { FLEET_CHANNEL, parseFleetChange } from '../fleet/fleet-events.ts';
import { deliverDue, DEFAULT_OUTBOX, type OutboxOptions } from './webhook-outbox.ts';
import type { TargetPolicy } from './webhook-target.ts';

export interface AlertWorkerOptions {
  policy: TargetPolicy;
  /** how often the outbox is polled for due deliveries, alerts' and OpenADR callbacks' (and right after every firing) */
  deliverEveryMs?: number;
  /** how often every active alert is evaluated, for rules that change with time alone (late data, tomorrow's window) */
  evaluateAllEveryMs?: number;
  /** how often the fleet's rules (devices offline) are evaluated, besides on every device status change */
  evaluateFleetEveryMs?: number;
  outbox?: Partial<Omit<OutboxOptions, 'policy'>>;
}

/**
 * The worker's alert loop: evaluates the alerts of the BAs named by each change event (hours landed), the
 * fleet's rules on each device change event and every minute, all alerts periodically, and drains the webhook outbox
 * (every kind: OpenADR subscription callbacks too, so this is the worker's one delivery loop). Passes run one at a
 * time; a failing pass is logged and the loop keeps going; stop() waits for the running pass.
 */
export async function startAlertWorker(db: Db, logger: Logger, options: AlertWorkerOptions): Promise<{ stop(): Promise<void>; idle(): Promise<void> }> {
  const log = logger.child({ job: 'alerts' });
  const outbox: OutboxOptions = { ...DEFAULT_OUTBOX, ...options.outbox, policy: options.policy };
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  const run = (name: string, pass: () => Promise<unknown>) => {
    if (stopped) return chain;
    chain = chain.then(pass).then((r) => log.debug({ pass: name, result: r }, 'alert pass'), (err: unknown) => log.error({ err, pass: name }, 'alert pass failed'));
    return chain;
  };
  const deliver = () => run('deliver', () => deliverDue({ db, logger: log }, outbox));
  const evaluate = (which: { bas?: string[]; kinds?: readonly string[] } = {}, starting?: () => void) => run('evaluate', async () => {
    starting?.();
    const counts = await evaluateAlerts({ db, logger: log }, which);
    if (counts.fired) void deliver();
    return counts;
  });
  const unlisten = await db.listen(HOURS_CHANNEL, (payload) => {
    const bas = parseHoursPayload(payload, log);
    if (bas?.length) void evaluate({ bas });
  });
  // a burst of device changes (a rollout, a broker restart) queues one fleet pass, not one per event
  let fleetQueued = false;
  const evaluateFleet = () => {
    if (fleetQueued) return;
    fleetQueued = true;
    void evaluate({ kinds: FLEET_RULE_KINDS }, () => { fleetQueued = false; });
  };
  const unlistenFleet = await db.listen(FLEET_CHANNEL, (payload) => { if (parseFleetChange(payload)?.kind === 'devices') evaluateFleet(); });
  const timers = [
    setInterval(() => void deliver(), options.deliverEveryMs ?? 5_000), // OpenADR callbacks have no firing to prompt a pass
    setInterval(() => void evaluate(), options.evaluateAllEveryMs ?? 15 * 60_000),
    setInterval(evaluateFleet, options.evaluateFleetEveryMs ?? 60_000),
  ];
  for (const t of timers) t.unref();
  void evaluate();
  return {
    idle: () => chain,
    stop: async () => {
      stopped = true;
      for (const t of timers) clearInterval(t);
      await unlisten();
      await unlistenFleet();
      await chain;
    },
  };
}
