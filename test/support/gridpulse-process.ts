import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

export type LogLine = Record<string, unknown> & { msg?: string };

/**
 * A `gridpulse` command run as its own process, as a user runs it: its JSON log lines (stdout) and its
 * stderr are collected, and a test can wait for a line, signal it and wait for its exit.
 */
export class GridpulseProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  stderr = '';
  stdout = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];

  /** `shim`: run through bin/gridpulse.mjs, as the npm bin does; `ownGroup`: in a process group of its own (killGroup: a terminal's Ctrl-C). */
  constructor(args: string[], env: NodeJS.ProcessEnv, cwd: string, o: { shim?: boolean; ownGroup?: boolean } = {}) {
    this.child = spawn(process.execPath, [path.join(root, o.shim ? 'bin/gridpulse.mjs' : 'src/cli/main.ts'), ...args],
      { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], ...(o.ownGroup ? { detached: true } : {}) });
    let partial = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const p of parts) {
        try { this.lines.push(JSON.parse(p) as LogLine); } catch { /* a line that is not a log line (a summary table) */ }
      }
      this.wake();
    });
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); this.wake(); });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => { this.wake(); resolve({ code, signal }); }));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first log line (already seen or to come) that matches; rejects on exit or time-out, with the output. */
  async waitFor(what: string, match: (l: LogLine) => boolean, timeoutMs = 120_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => { exited = true; });
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (exited) throw new Error(`gridpulse exited before ${what}\nstderr: ${this.stderr.slice(-2000)}\nstdout: ${this.stdout.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms\nstderr: ${this.stderr.slice(-2000)}\nstdout: ${this.stdout.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Resolves when stderr matches; rejects after timeoutMs. */
  async waitStderr(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stderr)) {
      if (Date.now() > deadline) throw new Error(`stderr did not show ${pattern} within ${timeoutMs} ms: ${this.stderr.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Signals its whole process group (started with ownGroup), as a terminal's Ctrl-C does. */
  killGroup(signal: NodeJS.Signals): void {
    process.kill(-this.child.pid!, signal);
  }
}

/** The environment of a spawned gridpulse: the test's own, without a database, Redis or EIA key unless given. */
export function gridpulseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['DATABASE_URL', 'TEST_DATABASE_URL', 'REDIS_URL', 'EIA_API_KEY', 'EIA_API_URL', 'GRIDPULSE_API_URL', 'GRIDPULSE_API_KEY', 'METRICS_PORT', 'NODE_TEST_CONTEXT']) delete env[k];
  return { ...env, ...extra };
}
