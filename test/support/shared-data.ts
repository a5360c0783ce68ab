import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * `../shared/data` beside the repository (CI always has it); SHARED_DATA_DIR overrides it for a checkout
 * elsewhere, such as a git worktree.
 */
export const sharedDataDir = path.resolve(process.env.SHARED_DATA_DIR ?? fileURLToPath(new URL('../../../shared/data', import.meta.url)));

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
