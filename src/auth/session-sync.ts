import type { Logger } from 'pino';
import type { Cache } from '../platform/cache.ts';
import type { Db } from '../platform/db.ts';
import { SESSIONS_CHANNEL, stateKey } from './sessions.ts';

/** Parses one `gridpulse_sessions` payload: the session ids, or undefined for anything else. */
export function parseSessionIds(payload: string): string[] | undefined {
  try {
    const ids: unknown = JSON.parse(payload);
    if (Array.isArray(ids) && ids.every((id) => typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id))) return ids as string[];
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * Several web copies on one PostgreSQL, each with its own in-process cache: a sign-out, password change,
 * disable or role change through one copy must reach the others at once, not after their cached session
 * state expires (60 s). The copy that made the change notifies `gridpulse_sessions` (publishSessionStates);
 * every copy drops the named sessions from its cache, so its next request reads them from the database.
 * With Redis the cache is shared and already holds the new state: nothing to do. Returns the unlisten.
 */
export async function subscribeSessionChanges(db: Db, cache: Cache, logger: Pick<Logger, 'warn'>): Promise<() => Promise<void>> {
  if (cache.kind !== 'memory') return async () => {};
  return db.listen(SESSIONS_CHANNEL, (payload) => {
    const ids = parseSessionIds(payload);
    if (!ids) { logger.warn({ payload: payload.slice(0, 200) }, 'sessions: malformed change notice ignored'); return; }
    Promise.all(ids.map((id) => cache.invalidatePrefix(stateKey(id))))
      .catch((err: unknown) => logger.warn({ err, sessions: ids.length }, 'sessions: cached states not dropped'));
  });
}
