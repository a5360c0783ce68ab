import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * `../shared/data` beside the repository (CI always has it); from a git worktree one level deeper
 * (`/work/wt/<name>`), `../../shared/data`.
 */
const candidates = ['../../../shared/data', '../../../../shared/data'].map((rel) => path.resolve(fileURLToPath(new URL(rel, import.meta.url))));
export const sharedDataDir = candidates.find((dir) => existsSync(dir)) ?? candidates[0]!;

/**
 * Options for node:test: skip a test that reads the shared real data only when the data is
 * absent AND we are not in CI. In CI a missing folder fails the test instead of skipping it.
 */
export function sharedDataTest(): { skip: string | false } {
  if (existsSync(sharedDataDir)) return { skip: false };
  if (process.env.CI) throw new Error(`shared data missing at ${sharedDataDir} (CI must have it)`);
  return { skip: `no shared data at ${sharedDataDir}` };
}

export function sharedPath(...parts: string[]): string {
  return path.join(sharedDataDir, ...parts);
}
