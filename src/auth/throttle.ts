import type { Db } from '../platform/db.ts';

/**
 * Sign-in brute-force defence (OWASP Authentication Cheat Sheet), per account and per client IP, kept in
 * the database (table login_throttle) so every web copy shares it:
 * - failures count within a 15-minute window (a quiet window starts the count again);
 * - from an account's 3rd failure (an IP's 10th: many people share an office's address), the next attempt
 *   must wait 2^(failures-3) s (2^(failures-10) s), at most 60 s (progressive delay): an attempt before then
 *   is refused with 429 and Retry-After, without checking the password;
 * - 10 failures lock the account, 50 lock the IP, for 15 minutes.
 * A success clears the account's count (not the IP's, so one good account cannot launder a spraying IP).
 * Unknown e-mail addresses are counted the same way, so the answer does not tell whether an account exists.
 */
export const THROTTLE = { windowSeconds: 900, delayFrom: 3, ipDelayFrom: 10, maxDelaySeconds: 60, accountLockAt: 10, ipLockAt: 50, lockSeconds: 900 } as const;

interface Row { key: string; failures: number; last_at: Date | string; first_at: Date | string; locked_until: Date | string | null }

export const throttleKeys = (email: string, ip: string) => ({ account: `account:${email.trim().toLowerCase()}`, ip: `ip:${ip}` });

/** Seconds the client must still wait before another attempt on these keys (0: go ahead). */
export async function throttleWait(db: Db, keys: string[], now = Date.now()): Promise<number> {
  const rows = await db.query<Row>('SELECT key, failures, first_at, last_at, locked_until FROM login_throttle WHERE key = ANY($1::text[])', [keys]);
  let wait = 0;
  for (const r of rows) {
    if (now - new Date(r.last_at).getTime() > THROTTLE.windowSeconds * 1000 && !(r.locked_until && new Date(r.locked_until).getTime() > now)) continue;
    if (r.locked_until) wait = Math.max(wait, (new Date(r.locked_until).getTime() - now) / 1000);
    const from = r.key.startsWith('ip:') ? THROTTLE.ipDelayFrom : THROTTLE.delayFrom;
    if (r.failures >= from) {
      const delay = Math.min(2 ** (r.failures - from), THROTTLE.maxDelaySeconds);
      wait = Math.max(wait, (new Date(r.last_at).getTime() + delay * 1000 - now) / 1000);
    }
  }
  return Math.max(0, Math.ceil(wait));
}

/** Counts a failed sign-in on the account and the IP; returns whether either is now locked. */
export async function recordFailure(db: Db, keys: { account: string; ip: string }): Promise<{ locked: boolean }> {
  let locked = false;
  for (const [key, lockAt] of [[keys.account, THROTTLE.accountLockAt], [keys.ip, THROTTLE.ipLockAt]] as const) {
    const [row] = await db.query<{ failures: number; locked_until: Date | null }>(
      `INSERT INTO login_throttle AS t (key, failures, first_at, last_at) VALUES ($1, 1, now(), now())
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN t.last_at < now() - make_interval(secs => $2) AND (t.locked_until IS NULL OR t.locked_until < now()) THEN 1 ELSE t.failures + 1 END,
         first_at = CASE WHEN t.last_at < now() - make_interval(secs => $2) AND (t.locked_until IS NULL OR t.locked_until < now()) THEN now() ELSE t.first_at END,
         last_at = now()
       RETURNING failures, locked_until`, [key, THROTTLE.windowSeconds]);
    if (row!.failures >= lockAt) {
      await db.query('UPDATE login_throttle SET locked_until = now() + make_interval(secs => $2) WHERE key = $1', [key, THROTTLE.lockSeconds]);
      locked = true;
    }
  }
  return { locked };
}

export async function clearFailures(db: Db, accountKey: string): Promise<void> {
  await db.query('DELETE FROM login_throttle WHERE key = $1', [accountKey]);
}
