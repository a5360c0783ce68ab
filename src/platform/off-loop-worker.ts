import { parentPort } from 'node:worker_threads';

/** The worker thread of off-loop.ts: imports the named module (once, then cached) and calls the export. */
parentPort!.on('message', async (task: { id: number; module: string; fn: string; args: unknown[] }) => {
  try {
    const mod = await import(task.module) as Record<string, unknown>;
    const fn = mod[task.fn];
    if (typeof fn !== 'function') throw new TypeError(`${task.module} has no exported function ${task.fn}`);
    const result: unknown = await (fn as (...a: unknown[]) => unknown)(...task.args);
    parentPort!.postMessage({ id: task.id, ok: true, result });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    parentPort!.postMessage({ id: task.id, ok: false, message: e.message, stack: e.stack });
  }
});
