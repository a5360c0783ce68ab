import type { Db } from '../platform/db.ts';
import { SCHEDULE_CHANNEL } from './schedule-versions.ts';

/**
 * Long polls of GET /api/v1/devices/{id}/schedule?wait=N: a request waits until its device's desired version
 * changes (NOTIFY on gridpulse_fleet_schedules, sent when the version commits, so every web copy hears it) or
 * the wait ends. One listener per process, whatever the number of waiting devices.
 */
export class ScheduleWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private unlisten: (() => Promise<void>) | undefined;

  static async start(db: Db): Promise<ScheduleWaiters> {
    const w = new ScheduleWaiters();
    w.unlisten = await db.listen(SCHEDULE_CHANNEL, (payload) => w.wake(payload));
    return w;
  }

  private wake(payload: string): void {
    let ids: unknown;
    try { ids = JSON.parse(payload); } catch { return; }
    if (!Array.isArray(ids)) return;
    for (const id of ids) {
      const set = typeof id === 'string' ? this.waiting.get(id) : undefined;
      if (set) for (const fn of [...set]) fn();
    }
  }

  /** Resolves true when the device's desired version changed, false when `ms` passed or `signal` aborted (the client left). */
  wait(deviceId: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      let set = this.waiting.get(deviceId);
      if (!set) { set = new Set(); this.waiting.set(deviceId, set); }
      const done = (changed: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0) this.waiting.delete(deviceId);
        resolve(changed);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      set.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** how many requests wait now */
  get size(): number { let n = 0; for (const s of this.waiting.values()) n += s.size; return n; }

  async close(): Promise<void> {
    for (const set of this.waiting.values()) for (const fn of [...set]) fn();
    await this.unlisten?.();
  }
}
