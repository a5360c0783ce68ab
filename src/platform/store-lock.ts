import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * One owner for the embedded store. PGlite is one process's database: a second process that opens the
 * same directory works on its own copy of the pages, and whatever either writes is lost or corrupts the
 * other's view (a whole ingest run vanished that way). So the first opener takes `<dir>.lock`, created
 * exclusively (O_EXCL) and holding its pid, host, command and start time; any later opener gets a
 * {@link StoreLockedError} naming the holder and what to do. A lock whose process is gone (kill -9,
 * power loss) is detected by its pid on this host and taken over at once, not after a time-out.
 */
export interface StoreLockHolder { pid: number; host: string; command: string; since: string }

export class StoreLockedError extends Error {
  readonly store: string;
  readonly holder: StoreLockHolder;
  constructor(store: string, holder: StoreLockHolder) {
    super(`the embedded store ${store} is in use by pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.since}). ` +
      'Stop that process first (Ctrl-C), or set DATABASE_URL so that several GridPulse processes share one PostgreSQL.');
    this.name = 'StoreLockedError';
    this.store = store;
    this.holder = holder;
  }
}

/** Whether a process with this pid runs on this host (one of another user counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): StoreLockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<StoreLockHolder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? { pid: h.pid, host: h.host, command: String(h.command ?? '?'), since: String(h.since ?? '?') } : undefined;
  } catch {
    return undefined; // a lock being written this instant, or a torn file from a crash: treated below
  }
}

/**
 * Takes the lock for the store at `dir` (the lock file is `dir + '.lock'`) and returns its release.
 * @throws StoreLockedError when a live process (this one included) holds it.
 */
export function acquireStoreLock(dir: string, command = process.argv.slice(1).map((a) => a.replace(/^.*\/src\/cli\/main\.ts$/, 'gridpulse')).join(' ')): () => void {
  const file = `${dir}.lock`;
  const me: StoreLockHolder = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (readHolder(file)?.pid === me.pid) rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = readHolder(file);
    if (!holder) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // give a holder that is writing its file a moment
      holder = readHolder(file);
    }
    // Another host's lock cannot be checked from here: it is honoured (a shared network folder).
    if (holder && (holder.host !== me.host || alive(holder.pid))) throw new StoreLockedError(dir, holder);
    rmSync(file, { force: true }); // its process is gone (or the file is torn): take the store over
  }
  throw new Error(`cannot take the lock ${file}: it keeps reappearing`);
}
