import type { Db } from '../platform/db.ts';
import { API_KEYS_CHANNEL } from '../auth/api-keys.ts';
import { SCHEDULE_CHANNEL } from './fleet-events.ts';

/** Who a long poll waits on: its device (a new version, a revocation) and the key it came with (a revocation of the key alone). */
export interface WaitSubject { deviceId: string; keyId?: string | undefined }

/**
 * Long polls of GET /api/v1/devices/{id}/schedule?wait=N: a request waits until a notice names its device
 * (SCHEDULE_CHANNEL: a new desired version or the device's revocation, sent when the change commits, so every web copy
 * hears it) or its API key (API_KEYS_CHANNEL: the key revoked), or until the wait ends. One listener per channel and
 * process, whatever the number of waiting devices.
 */
export class ScheduleWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private readonly unlisten: Array<() => Promise<void>> = [];
  private closed = false;

  static async start(db: Db): Promise<ScheduleWaiters> {
    const w = new ScheduleWaiters();
    w.unlisten.push(await db.listen(SCHEDULE_CHANNEL, (payload) => w.wake(payload, 'device')));
    w.unlisten.push(await db.listen(API_KEYS_CHANNEL, (payload) => w.wake(payload, 'key')));
    return w;
  }

  private wake(payload: string, kind: 'device' | 'key'): void {
    let ids: unknown;
    try { ids = JSON.parse(payload); } catch { return; }
    if (!Array.isArray(ids)) return;
    for (const id of ids) {
      const set = typeof id === 'string' ? this.waiting.get(`${kind}:${id}`) : undefined;
      if (set) for (const fn of [...set]) fn();
    }
  }

  /**
   * Resolves true when a notice named the subject's device or key, false when `ms` passed, `signal` aborted (the
   * client left) or the waiters are closed. The listener is registered before this returns, synchronously.
   */
  wait(subject: WaitSubject, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.closed || signal?.aborted) return Promise.resolve(false);
    const keys = [`device:${subject.deviceId}`, ...(subject.keyId ? [`key:${subject.keyId}`] : [])];
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        for (const k of keys) {
          const set = this.waiting.get(k);
          set?.delete(wake);
          if (set?.size === 0) this.waiting.delete(k);
        }
        resolve(changed);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), Math.max(0, ms));
      for (const k of keys) {
        let set = this.waiting.get(k);
        if (!set) { set = new Set(); this.waiting.set(k, set); }
        set.add(wake);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Reads the subject's state until `settled(state)`, `ms` (milliseconds) pass, `signal` aborts or the waiters close,
   * reading again each time a notice names the device or key. Each read happens after the listener is registered, so
   * a change committed between a read and the wait is never missed. Returns the last state read; `read`'s errors
   * propagate.
   */
  async until<T>(subject: WaitSubject, ms: number, read: () => Promise<T>, settled: (state: T) => boolean, signal?: AbortSignal): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const stop = new AbortController();
      const woken = this.wait(subject, deadline - Date.now(), signal ? AbortSignal.any([signal, stop.signal]) : stop.signal);
      let state: T;
      try { state = await read(); } catch (err) { stop.abort(); throw err; }
      if (settled(state) || Date.now() >= deadline || signal?.aborted || this.closed) { stop.abort(); await woken; return state; }
      if (!(await woken)) return state;
    }
  }

  /** how many requests wait now */
  get size(): number {
    const all = new Set<() => void>();
    for (const s of this.waiting.values()) for (const fn of s) all.add(fn);
    return all.size;
  }

  /** Ends every wait now (each `until` returns after one more read) and stops listening; later waits end at once. */
  async close(): Promise<void> {
    this.closed = true;
    for (const set of this.waiting.values()) for (const fn of [...set]) fn();
    for (const off of this.unlisten) await off();
  }
}
