import { backoffDelay } from './backoff.ts';

/**
 * What one round of the HTTP fallback learned: `changed` — a new schedule version arrived; `unchanged` — the server
 * answered but had nothing new (304, 204, or the version already held); `refused` — an error status (`status`) or no
 * answer at all (no status), with the server's Retry-After in ms when it sent one.
 */
export type LinkOutcome =
  | { kind: 'changed' }
  | { kind: 'unchanged' }
  | { kind: 'refused'; status?: number; retryAfterMs?: number };

export interface PaceOptions {
  /** Floor between the starts of two polls, ms (default 2,000); each gap draws up to half of it again as jitter. */
  minIntervalMs?: number;
  /** Error backoff: first ceiling and cap, ms (backoff.ts). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Longest Retry-After obeyed, ms (default 15 minutes): a bad header does not silence a device for days. */
  maxRetryAfterMs?: number;
  /** uniform in [0, 1); injectable for tests */
  random?: () => number;
}

export const DEFAULT_MIN_POLL_INTERVAL_MS = 2_000;

/**
 * How long the HTTP fallback sleeps before its next poll, ms, so it never spins however the server answers:
 * - `refused`: the server's Retry-After when it sent one (capped at maxRetryAfterMs), at least the full-jitter
 *   backoff of the `attempt`th error in a row;
 * - `unchanged` well before the long poll's wait (`waitMs`) was over — a server ignoring `wait` (an old one, a proxy):
 *   the rest of the wait, plus jitter, as if it had been held;
 * - and always: the next poll starts at least minIntervalMs (plus up to half again, jitter) after this one started.
 * `elapsedMs` is how long this round took.
 */
export function nextPollDelay(outcome: LinkOutcome, elapsedMs: number, waitMs: number, attempt: number, o: PaceOptions = {}): number {
  const random = o.random ?? Math.random;
  const minInterval = o.minIntervalMs ?? DEFAULT_MIN_POLL_INTERVAL_MS;
  const floor = minInterval * (1 + random() / 2) - elapsedMs;
  let delay = 0;
  if (outcome.kind === 'refused') {
    delay = Math.max(backoffDelay(attempt, { ...o.backoff, random }), Math.min(outcome.retryAfterMs ?? 0, o.maxRetryAfterMs ?? 15 * 60_000));
  } else if (outcome.kind === 'unchanged' && elapsedMs < waitMs / 2) {
    delay = (waitMs - elapsedMs) * (1 + random() / 10);
  }
  return Math.max(0, Math.ceil(Math.max(delay, floor)));
}

/** A Retry-After header (seconds, or an HTTP date) as ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1_000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
