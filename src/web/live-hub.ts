import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';

/** The change event ingestion sends on commit (docs: notes/contract "Change events"). */
export interface HoursEvent { bas: string[]; newest: string; source: string }

export const HOURS_CHANNEL = 'gridpulse_hours';

/** Fans the events of one NOTIFY channel out to the open live streams of this process. */
export interface ChannelHub<E, K = string> {
  /** Calls `fn` for every event naming one of `keys` (every event when empty); returns the unsubscribe. */
  subscribe(keys: K[], fn: (event: E, raw: string) => void): () => void;
  /** Fans one raw payload out to the subscribers (what the database listener calls). */
  publish(raw: string): void;
  readonly listening: boolean;
  close(): Promise<void>;
}

export type LiveHub = ChannelHub<HoursEvent>;

export function parseHoursEvent(raw: string): HoursEvent | undefined {
  try {
    const v = JSON.parse(raw) as Partial<HoursEvent>;
    if (!Array.isArray(v.bas) || typeof v.newest !== 'string') return undefined;
    return { bas: v.bas.filter((b): b is string => typeof b === 'string'), newest: v.newest, source: String(v.source ?? '') };
  } catch {
    return undefined;
  }
}

/** What a channel hub needs to know about its events: how to read one, and which keys (BAs, devices) it names. */
export interface ChannelSpec<E, K> {
  channel: string;
  parse(raw: string): E | undefined;
  /** The keys an event concerns; `undefined`: every subscriber hears it. */
  keysOf(event: E): readonly K[] | undefined;
}

/**
 * One LISTEN per process and channel, fanned out to every open live stream. The database subscription starts
 * with the first subscriber; while it fails, streams stay open with heartbeats only and the next subscriber retries.
 */
export function createChannelHub<E, K>(db: Db, logger: Logger, spec: ChannelSpec<E, K>): ChannelHub<E, K> {
  const listeners = new Set<{ keys: Set<K>; fn: (event: E, raw: string) => void }>();
  let unlisten: (() => Promise<void>) | undefined;
  let starting: Promise<void> | undefined;
  let listening = false;
  let rejected = 0;

  const publish = (raw: string) => {
    const event = spec.parse(raw);
    if (!event) {
      rejected++;
      logger.warn({ rejected, channel: spec.channel, payload: raw.slice(0, 200) }, 'live: malformed change event ignored');
      return;
    }
    const keys = spec.keysOf(event);
    for (const l of listeners) if (l.keys.size === 0 || !keys || keys.some((k) => l.keys.has(k))) l.fn(event, raw);
  };

  const start = () => db.listen(spec.channel, publish).then((stop) => { unlisten = stop; listening = true; },
    (err: unknown) => { starting = undefined; logger.error({ err, channel: spec.channel }, 'live: LISTEN failed; will retry on next subscriber'); });

  return {
    subscribe(keys, fn) {
      const entry = { keys: new Set(keys), fn };
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

/** The hub of ingestion's change events: subscribers name the BAs they show. */
export function createLiveHub(db: Db, logger: Logger): LiveHub {
  return createChannelHub(db, logger, { channel: HOURS_CHANNEL, parse: parseHoursEvent, keysOf: (e) => e.bas });
}
