#!/usr/bin/env node
// Runs the TypeScript CLI on the project's Node 24 (type stripping), whatever node launched this shim.
// The CLI runs as a child: SIGINT, SIGTERM and SIGHUP sent to this shim (a process manager knows only its pid) are
// passed on, so the CLI stops gracefully (src/platform/interrupts.ts: a signal that also reached the child itself, as
// Ctrl-C reaches the whole process group, is one request); the shim exits with the child's code, or dies of its signal.
// A shim killed outright (SIGKILL: no handler runs) closes the IPC channel it holds to the child; the CLI takes that as a
// stop request (src/cli/main.ts), so it never runs on as an orphan holding the ports and DATA_DIR's lock.
import { spawn } from 'node:child_process';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
const root = fileURLToPath(new URL('..', import.meta.url));
const node24 = root + 'node_modules/.bin/node';
// an eGRID import streams row after row: a small young generation keeps its RSS bounded (src/egrid/node-flags.ts)
const flags = process.argv[2] === 'egrid' ? ['--max-semi-space-size=4', '--max-old-space-size=192'] : [];
const child = spawn(existsSync(node24) ? node24 : process.execPath, [...flags, root + 'src/cli/main.ts', ...process.argv.slice(2)], {
  stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  // React picks its build when first imported, before the CLI runs: production unless NODE_ENV says otherwise.
  env: { NODE_ENV: 'production', ...process.env },
});
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const forward = (signal) => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); };
for (const s of SIGNALS) process.on(s, forward);
child.on('error', (err) => {
  process.stderr.write(`gridpulse: could not start the CLI: ${err.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    // die of the same signal, as the caller would expect of the CLI itself (exit status 128 + n)
    for (const s of SIGNALS) process.off(s, forward);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
