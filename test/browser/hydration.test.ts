import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { needs } from './support/availability.ts';
import { collectHydrationProblems, launchChromium } from './support/browser.ts';
import { startSite, type Site } from './support/site.ts';
import { listBas } from '../../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../../src/ingest/simulated-grid.ts';

/*
 * Text rendered on the server and again in the browser must come out the same, whatever differs between the
 * two: time-zone rules (Node's tzdata has Manitoba on permanent daylight time from November 2026, this
 * Chromium does not: MHEB's hours printed 03:00 on one side and 04:00 on the other, React error #418), the
 * visitor's locale and zone, the clock (a minute or an hour turning during hydration) and the data (a store
 * still filling). Every page, each way, with zero console errors.
 */
const BAS = ['CISO', 'MHEB', 'ERCO'];
const HOUR = 3_600_000;
const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const PAGES = [
  '/', '/?show=all', '/ba/CISO', '/ba/MHEB', `/ba/MHEB?date=${yesterday}`, '/compare?bas=CISO,MHEB,ERCO', '/pipeline', '/methodology',
  '/embed/ba/MHEB/now', '/embed/ba/MHEB/pulse', '/embed/ba/MHEB/clean-window',
];
/** The preferences cookie of a visitor who reads times in their own zone (what the settings form stores). */
const viewerIn = (zone: string) => ({ name: 'gp_prefs', value: encodeURIComponent(new URLSearchParams({ time: 'viewer', theme: 'system', zone }).toString()) });

describe('every page hydrates with the text the server rendered', needs({ chromium: true }), () => {
  let site: Site;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  /** Loads every page in a fresh context, lets it hydrate and settle, and returns what went wrong, page by page. */
  async function visitAll(options: BrowserContextOptions, setup?: (ctx: BrowserContext) => Promise<void>, beforeLoad?: (page: Page) => Promise<void>): Promise<string[]> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
    contexts.push(ctx);
    await setup?.(ctx);
    const problems: string[] = [];
    for (const path of PAGES) {
      const page = await ctx.newPage();
      const errors = collectHydrationProblems(page);
      await beforeLoad?.(page);
      const res = await page.goto(site.url + path, { waitUntil: 'load' });
      assert.equal(res?.status(), 200, path);
      // hydrated: React has attached its fibers to the server's DOM (a mismatch is reported right after)
      await page.waitForFunction(() => Object.keys(document.querySelector('main') ?? document.body).some((k) => k.startsWith('__reactFiber')));
      await page.waitForTimeout(100);
      problems.push(...errors.map((e) => `${path}: ${e}`));
      await page.close();
    }
    return problems;
  }

  before(async () => {
    site = await startSite({ bas: BAS, days: 0 });
    browser = await launchChromium();
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await site?.close();
  });

  it('(a) during the first fill: an empty store, then one BA with a few hours', async () => {
    assert.deepEqual(await visitAll({}), [], 'empty store');
    const bas = (await listBas(site.db)).filter((b) => b.code === 'MHEB');
    const end = Math.floor(Date.now() / HOUR) * HOUR;
    await loadSimulatedGrid({ db: site.db, logger: pino({ level: 'silent' }) }, bas, new Date(end - 5 * HOUR), 6);
    assert.deepEqual(await visitAll({}), [], 'one BA, six hours');
  });

  it('(c) in another zone and locale, and with times in the viewer\'s own zone, where the two runtimes\' rules differ', async () => {
    const bas = (await listBas(site.db)).filter((b) => BAS.includes(b.code));
    const end = Math.floor(Date.now() / HOUR) * HOUR;
    await loadSimulatedGrid({ db: site.db, logger: pino({ level: 'silent' }) }, bas, new Date(end - 2 * 24 * HOUR), 2 * 24);
    const problems = [
      ...await visitAll({ timezoneId: 'Asia/Kolkata', locale: 'de-DE' }),
      ...await visitAll({ timezoneId: 'America/Winnipeg', locale: 'fr-CA' }, (ctx) => ctx.addCookies([{ ...viewerIn('America/Winnipeg'), url: site.url }])),
    ];
    assert.deepEqual(problems, []);
  });

  it('(b) with the browser\'s clock turning a minute, and an hour, while the page hydrates', async () => {
    const now = Date.now();
    const problems: string[] = [];
    for (const turn of [Math.ceil(now / 60_000) * 60_000, Math.ceil(now / HOUR) * HOUR]) {
      // each page's clock starts 200 ms before the turn and runs on through hydration
      problems.push(...await visitAll({ timezoneId: 'America/Winnipeg' }, undefined, (page) => page.clock.install({ time: turn - 200 })));
    }
    assert.deepEqual(problems, []);
  });
});
