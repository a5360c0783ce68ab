import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';

/** The change event ingestion sends on commit (docs: notes/contract "Change events"). */
export interface HoursEvent { bas: string[]; newest: string; source: string }

type Listener = (event: HoursEvent, raw: string) => void;

export const HOURS_CHANNEL = 'gridpulse_hours';

export interface LiveHub {
  /** Calls `fn` for every change event naming one of `bas` (all BAs when empty); returns the unsubscribe. */
  subscribe(bas: string[], fn: Listener): () => void;
  /** Fans one raw payload out to the subscribers (what the database listener calls). */
  publish(raw: string): void;
  readonly listening: boolean;
  close(): Promise<void>;
}

export function parseHoursEvent(raw: string): HoursEvent | undefined {
  try {
    const v = JSON.parse(raw) as Partial<HoursEvent>;
    if (!Array.isArray(v.bas) || typeof v.newest !== 'string') return undefined;
    return { bas: v.bas.filter((b): b is string => typeof b === 'string'), newest: v.newest, source: String(v.source ?? '') };
  } catch {
    return undefined;
  }
}

/**
 * One LISTEN per process, fanned out to every open live stream. The database subscription starts with the
 * first subscriber; while it fails, streams stay open with heartbeats only and the next subscriber retries.
 */
export function createLiveHub(db: Db, logger: Logger): LiveHub {
  const listeners = new Set<{ bas: Set<string>; fn: Listener }>();
  let unlisten: (() => Promise<void>) | undefined;
  let starting: Promise<void> | undefined;
  let listening = false;
  let rejected = 0;

  const publish = (raw: string) => {
    const event = parseHoursEvent(raw);
    if (!event) {
      rejected++;
      logger.warn({ rejected, payload: raw.slice(0, 200) }, 'live: malformed change event ignored');
      return;
    }
    for (const l of listeners) if (l.bas.size === 0 || event.bas.some((b) => l.bas.has(b))) l.fn(event, raw);
  };

  const start = () => db.listen(HOURS_CHANNEL, publish).then((stop) => { unlisten = stop; listening = true; },
    (err: unknown) => { starting = undefined; logger.error({ err }, 'live: LISTEN failed; will retry on next subscriber'); });

  return {
    subscribe(bas, fn) {
      const entry = { bas: new Set(bas), fn };
      listeners.add(entry);
      starting ??= start();
      return () => { listeners.delete(entry); };
    },
    publish,
    get listening() { return listening; },
    async close() {
      listeners.clear();
      await starting;
      await unlisten?.();
      listening = false;
    },
  };
}
