#!/usr/bin/env node
// Runs the TypeScript CLI on the project's Node 24 (type stripping), whatever node launched this shim.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
const root = fileURLToPath(new URL('..', import.meta.url));
const node24 = root + 'node_modules/.bin/node';
// an eGRID import streams row after row: a small young generation keeps its RSS bounded (src/egrid/node-flags.ts)
const flags = process.argv[2] === 'egrid' ? ['--max-semi-space-size=4', '--max-old-space-size=192'] : [];
const r = spawnSync(existsSync(node24) ? node24 : process.execPath, [...flags, root + 'src/cli/main.ts', ...process.argv.slice(2)], {
  stdio: 'inherit',
  // React picks its build when first imported, before the CLI runs: production unless NODE_ENV says otherwise.
  env: { NODE_ENV: 'production', ...process.env },
});
process.exit(r.status ?? 1);
