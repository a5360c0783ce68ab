// Regenerates the README screenshots: `node test/browser/readme-screenshots.ts` (after `npm run build`).
import { mkdirSync } from 'node:fs';
import { launchChromium } from './support/browser.ts';
import { startSite } from './support/site.ts';

const OUT = new URL('../../docs/screenshots/', import.meta.url);
mkdirSync(OUT, { recursive: true });
const site = await startSite({ bas: ['CISO', 'ERCO', 'PJM', 'MISO', 'BPAT', 'ISNE', 'NYIS', 'SWPP', 'DUK', 'FPL'], days: 10, forecastFor: 'CISO' });
const browser = await launchChromium();
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  await ctx.addCookies([{ name: 'gp_prefs', value: encodeURIComponent('time=ba&theme=light&ba=CISO'), url: site.url }]);
  const page = await ctx.newPage();
  await page.goto(`${site.url}/?sort=intensity`, { waitUntil: 'networkidle' });
  await page.screenshot({ path: new URL('home.png', OUT).pathname, fullPage: true });
  await page.goto(`${site.url}/ba/CISO`, { waitUntil: 'networkidle' });
  await page.waitForSelector('[data-chart="intensity"] canvas');
  await page.screenshot({ path: new URL('ba-page.png', OUT).pathname, clip: { x: 0, y: 0, width: 1280, height: 1900 }, fullPage: true });
  await page.goto(`${site.url}/?where=94110`, { waitUntil: 'networkidle' });
  await page.screenshot({ path: new URL('where-desktop.png', OUT).pathname, clip: { x: 0, y: 0, width: 1280, height: 560 } });
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
  const mobile = await phone.newPage();
  await mobile.goto(`${site.url}/?where=94110`, { waitUntil: 'networkidle' });
  await mobile.screenshot({ path: new URL('where-phone.png', OUT).pathname });
  console.log(`saved home.png, ba-page.png, where-desktop.png and where-phone.png in ${OUT.pathname}`);
} finally {
  await browser.close();
  await site.close();
}
