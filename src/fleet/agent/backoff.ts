/**
 * Reconnect delay after `attempt` failures (0-based), ms: "full jitter" exponential backoff — a uniform draw in
 * [0, min(maxMs, baseMs·2^attempt)] — so 10,000 devices that lost the same broker do not return in one wave.
 * `random` in [0, 1) is injectable for tests.
 */
/** Waits `ms`, or less: resolves at once when `signal` is aborted (a stop never waits out a backoff or a poll's pause). */
export const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  if (signal?.aborted) { resolve(); return; }
  const done = () => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
  const t = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

export function backoffDelay(attempt: number, opts: { baseMs?: number; maxMs?: number; random?: () => number } = {}): number {
  const { baseMs = 500, maxMs = 30_000, random = Math.random } = opts;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(50, Math.floor(random() * ceiling));
}
