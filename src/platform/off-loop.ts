import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';

/**
 * CPU-heavy work off the event loop that serves HTTP (issue 11: /healthz waited 4.9 s behind the hourly
 * forecast). A small pool of node:worker_threads runs named exports of our own modules; the caller awaits
 * the result as if it had called the function. Arguments and results cross by structured clone (plain objects,
 * arrays, Dates, Maps, Sets, typed arrays; no functions or class instances with methods), so an off-loop
 * function is pure CPU: it never touches the database (the main thread's Db reaches it: embedded PGlite on a thread
 * of its own, or PostgreSQL's pool), it takes what the job read and returns what the job will write.
 *
 * Each worker thread is an isolate of its own: modules load once per thread, then stay warm. Workers are
 * unreferenced while idle, so they never keep a finished CLI command alive, and are replaced when one dies.
 * Why not piscina: its optional `@napi-rs/nice` dependency is a native addon, which the project does not take.
 */

interface Pending { id: number; module: string; fn: string; args: unknown[]; resolve(v: unknown): void; reject(e: Error): void }
interface Reply { id: number; ok: boolean; result?: unknown; message?: string; stack?: string }

const WORKER = new URL('./off-loop-worker.ts', import.meta.url);

/** Threads: one per core less the one that serves HTTP (at least one, at most four). */
export const DEFAULT_THREADS = Math.max(1, Math.min(4, availableParallelism() - 1));

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  readonly size: number;

  constructor(size = DEFAULT_THREADS) {
    this.size = size;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`worker pool size must be a positive integer, got ${size}`);
  }

  /** Runs export `fn` of `module` (a file: URL) on a worker thread with `args`; rejects with the worker's error. */
  run(module: string, fn: string, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, module, fn, args, resolve, reject });
      this.dispatch();
    });
  }

  /** Tasks waiting for a thread and running now (for metrics and tests). */
  get load(): { queued: number; running: number; threads: number } {
    return { queued: this.queue.length, running: this.busy.size, threads: this.idle.length + this.busy.size };
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (!worker) {
        if (this.idle.length + this.busy.size >= this.size) return;
        worker = this.spawn();
      }
      const task = this.queue.shift()!;
      this.busy.set(worker, task);
      worker.ref();
      try {
        worker.postMessage({ id: task.id, module: task.module, fn: task.fn, args: task.args });
      } catch (err) {
        // an argument that cannot be cloned (a function, a class with private state): the caller's mistake
        this.busy.delete(worker);
        worker.unref();
        this.idle.push(worker);
        task.reject(new Error(`runInWorker ${task.fn}: arguments cannot be sent to a worker thread: ${(err as Error).message}`, { cause: err }));
      }
    }
  }

  private spawn(): Worker {
    // no inherited flags: under `node --test` they would make the thread a second test-runner child
    const worker = new Worker(WORKER, { execArgv: [] });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const task = this.busy.get(worker);
      if (!task || task.id !== reply.id) return;
      this.busy.delete(worker);
      worker.unref();
      if (!this.closed) this.idle.push(worker);
      if (reply.ok) task.resolve(reply.result);
      else task.reject(Object.assign(new Error(reply.message ?? 'worker task failed'), { stack: reply.stack }));
      this.dispatch();
    });
    const lost = (err: Error) => {
      const task = this.busy.get(worker);
      this.busy.delete(worker);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      task?.reject(err);
      if (!this.closed) this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`worker thread exited (code ${code}) during a task`)));
    return worker;
  }

  /** Stops every thread; queued and running tasks are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new Error('worker pool is closed'));
    await Promise.all([...this.idle.splice(0), ...this.busy.keys()].map((w) => w.terminate()));
  }
}

let shared: WorkerPool | undefined;

/** The process's pool, started on first use. */
export function workerPool(): WorkerPool {
  shared ??= new WorkerPool();
  return shared;
}

/** Stops the process's pool (at shutdown, and in tests); the next use starts a new one. */
export async function closeWorkerPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}

/** Runs export `fn` of `module` on the process's pool (see WorkerPool.run). */
export function runInWorker(module: string | URL, fn: string, args: unknown[]): Promise<unknown> {
  return workerPool().run(String(module), fn, args);
}

/**
 * The off-loop twin of an exported function: `offLoop(import.meta.url, 'name', name)` returns an async function
 * with name's signature that runs it on a worker thread. `name` must be the export's name in that module (the
 * worker imports the module and calls that export); the function value only gives the types.
 */
export function offLoop<A extends unknown[], R>(module: string, name: string, fn: (...args: A) => R): (...args: A) => Promise<Awaited<R>> {
  void fn;
  return (...args: A) => runInWorker(module, name, args) as Promise<Awaited<R>>;
}
