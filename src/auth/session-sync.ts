import type { Logger } from 'pino';
import type { Cache } from '../platform/cache.ts';
import type { Db } from '../platform/db.ts';
import { SESSIONS_CHANNEL, stateKey } from './sessions.ts';
import { API_KEYS_CHANNEL, forgetApiKeyStates } from './api-keys.ts';

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

/** Parses one `gridpulse_api_keys` payload: the key ids (12 hex digits), or undefined for anything else. */
export function parseKeyIds(payload: string): string[] | undefined {
  try {
    const ids: unknown = JSON.parse(payload);
    if (Array.isArray(ids) && ids.every((id) => typeof id === 'string' && /^[0-9a-f]{12}$/.test(id))) return ids as string[];
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * API keys change through a web copy or the CLI (`gridpulse keys revoke`, which has only the database): every
 * copy drops the named keys' state from its cache when the change commits — with Redis too, since the CLI cannot
 * write it — so its next request reads the database (api-keys.ts ApiKeyVerifier). Returns the unlisten.
 */
export async function subscribeApiKeyChanges(db: Db, cache: Cache, logger: Pick<Logger, 'warn'>): Promise<() => Promise<void>> {
  return db.listen(API_KEYS_CHANNEL, (payload) => {
    const ids = parseKeyIds(payload);
    if (!ids) { logger.warn({ payload: payload.slice(0, 200) }, 'api keys: malformed change notice ignored'); return; }
    forgetApiKeyStates(ids, [cache]).catch((err: unknown) => logger.warn({ err, keys: ids.length }, 'api keys: cached states not dropped'));
  });
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
