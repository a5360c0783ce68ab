import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';
export const WEB_BUILD = fileURLToPath(new URL('../../../build/web/server/index.js', import.meta.url));

/**
 * node:test options for tests that need the web build (and Chromium): skipped with a loud message on a
 * developer machine without them, a hard failure in CI, where .ci/run installs Chromium and `npm test` builds.
 */
export function needs(what: { chromium?: boolean }): { skip: string | false } {
  const missing = [
    ...(existsSync(WEB_BUILD) ? [] : [`the web build (${WEB_BUILD}; run npm run build)`]),
    ...(what.chromium && !existsSync(CHROMIUM) ? [`Chromium at ${CHROMIUM} (apt-get install chromium)`] : []),
  ];
  if (!missing.length) return { skip: false };
  const message = `missing ${missing.join(' and ')}`;
  if (process.env.CI) throw new Error(`${message}: CI must run the web tests`);
  process.stderr.write(`\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! SKIPPING web tests: ${message}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n`);
  return { skip: message };
}
