/** What the first Ctrl-C prints, at once. */
export const FIRST_INTERRUPT = 'finishing the current batch… (Ctrl-C again to stop now, safely)';
/** What a second Ctrl-C prints before the process exits. */
export const SECOND_INTERRUPT = 'stopping now: every stored batch is committed and the next start resumes the rest';

/** Signals this close after the first are the same request arriving twice (a person's second Ctrl-C comes later). */
export const SAME_REQUEST_MS = 100;

/**
 * Ctrl-C (SIGINT) and SIGTERM for a long-running command. The first says at once what happens and calls `stop`
 * (which finishes the batch in hand and closes the store); a second exits at once with 130. That is still safe:
 * every batch is one transaction, so the store holds whole batches only (PostgreSQL and PGlite recover from
 * their write-ahead log as after a kill), a run left 'running' is closed by its dead owner (process-owner.ts)
 * and the next start resumes it. SIGTERM (a service manager) stops the same way without the message. Returns
 * a function that removes the handlers.
 */
export function onInterrupt(stop: () => void | Promise<void>, out: NodeJS.WritableStream = process.stderr, now: () => number = Date.now): () => void {
  let signals = 0;
  let first = 0;
  const handler = (signal: NodeJS.Signals) => {
    // one request delivered twice (Ctrl-C reaches the whole process group, and bin/gridpulse.mjs passes it on too; a
    // service manager may signal every process of the unit) is one request, not "again"
    if (signals === 1 && now() - first < SAME_REQUEST_MS) return;
    if (signals === 0) first = now();
    if (++signals > 1) {
      out.write(`\n${SECOND_INTERRUPT}\n`);
      return process.exit(130);
    }
    if (signal === 'SIGINT') out.write(`\n${FIRST_INTERRUPT}\n`);
    void stop();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => { process.off('SIGINT', handler); process.off('SIGTERM', handler); };
}
