import type { Logger } from 'pino';

/**
 * Sampled logging of refused device input (invalid or oversized messages, oversized packets): the first refusal
 * of each device in each window (default one minute) is one warning line with its reason; the rest are only
 * counted, and at the end of a window with suppressed refusals one summary line gives their number by reason and
 * the number of devices. A flood of junk from one device is thus two lines a minute, not one per message.
 * `count` is called for every refusal (a Prometheus counter by reason). The timer does not hold the process.
 */
export class RejectionLog {
  private seen = new Set<string>();
  private suppressed = new Map<string, number>();
  private suppressedDevices = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly message: string;
  private readonly count: (reason: string) => void;

  constructor(log: Logger, message: string, count: (reason: string) => void = () => {}, windowMs = 60_000) {
    this.log = log;
    this.message = message;
    this.count = count;
    this.timer = setInterval(() => this.flush(), windowMs);
    this.timer.unref();
  }

  /** One refusal: counted always, logged when it is the device's first in this window. */
  refuse(deviceId: string | undefined, reason: string, detail: Record<string, unknown> = {}): void {
    this.count(reason);
    const key = deviceId ?? '(unknown)';
    if (!this.seen.has(key)) {
      this.seen.add(key);
      this.log.warn({ deviceId, reason, ...detail }, this.message);
      return;
    }
    this.suppressed.set(reason, (this.suppressed.get(reason) ?? 0) + 1);
    this.suppressedDevices.add(key);
  }

  /** Ends the window: the summary line (when anything was suppressed), and every device may log again. */
  flush(): void {
    if (this.suppressed.size) {
      const byReason = Object.fromEntries(this.suppressed);
      const total = [...this.suppressed.values()].reduce((a, b) => a + b, 0);
      this.log.warn({ suppressed: total, byReason, devices: this.suppressedDevices.size }, `${this.message} (summary of the ones not logged)`);
    }
    this.seen = new Set();
    this.suppressed = new Map();
    this.suppressedDevices = new Set();
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
