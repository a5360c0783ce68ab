import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext } from 'playwright-core';
import { needs } from './support/availability.ts';
import { axeProblems, canvasInk, collectErrors, launchChromium } from './support/browser.ts';
import { startSite, type Site } from './support/site.ts';

const ARTIFACTS = new URL('../../artifacts/screenshots/', import.meta.url);
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 375, height: 740 } } as const;

const daysAgo = (tz: string, n: number) => {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date());
  return new Date(Date.parse(`${today}T00:00:00Z`) - n * 86_400_000).toISOString().slice(0, 10);
};
const yesterday = (tz: string) => daysAgo(tz, 1);

const PAGES: Array<[string, string]> = [
  ['home', '/'],
  ['ba', '/ba/CISO'],
  ['ba-day', `/ba/CISO?date=${yesterday('America/Los_Angeles')}`],
  ['compare', '/compare?bas=CISO,ERCO,PJM'],
  ['pipeline', '/pipeline'],
  ['methodology', '/methodology'],
  ['embed-now', '/embed/ba/CISO/now'],
  ['embed-pulse', '/embed/ba/CISO/pulse'],
  ['embed-clean-window', '/embed/ba/CISO/clean-window'],
];

describe('GridPulse in Chromium', needs({ chromium: true }), () => {
  let site: Site;
  let browser: Browser;
  let framer: http.Server;
  let framerUrl: string;
  const contexts: BrowserContext[] = [];
  const newPage = async (viewport: { width: number; height: number } = VIEWPORTS.desktop) => {
    const ctx = await browser.newContext({ viewport });
    contexts.push(ctx);
    return ctx.newPage();
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    site = await startSite({ forecastFor: 'CISO' });
    browser = await launchChromium();
    // A second origin (another port) whose page frames GridPulse: an embed, which may be framed, and a normal page, which may not.
    framer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>framer</title><iframe id="embed" src="${site.url}/embed/ba/CISO/now" width="320" height="200"></iframe>`
        + `<iframe id="page" src="${site.url}/ba/CISO" width="320" height="200"></iframe>`);
    });
    await new Promise<void>((r) => framer.listen(0, '127.0.0.1', r));
    framerUrl = `http://localhost:${(framer.address() as AddressInfo).port}/`;
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await new Promise((r) => framer?.close(r));
    await site?.close();
  });

  it('loads every page with no console errors, fits a 375 px phone, and saves screenshots', async () => {
    for (const [vpName, viewport] of Object.entries(VIEWPORTS)) {
      const page = await newPage(viewport);
      const errors = collectErrors(page);
      for (const [name, path] of PAGES) {
        const res = await page.goto(site.url + path, { waitUntil: 'networkidle' });
        assert.equal(res?.status(), 200, path);
        if (name.startsWith('ba') || name === 'compare') await page.waitForSelector('[data-chart] canvas');
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${path} is ${overflow}px wider than a ${viewport.width}px viewport`);
        await page.screenshot({ path: new URL(`${name}-${vpName}.png`, ARTIFACTS).pathname, fullPage: true });
      }
      assert.deepEqual(errors, [], `console errors at ${vpName}`);
    }
  });

  it('draws the charts on canvas after hydration', async () => {
    const page = await newPage();
    await page.goto(`${site.url}/ba/CISO`, { waitUntil: 'networkidle' });
    for (const id of ['demand', 'generation', 'intensity']) {
      await page.waitForSelector(`[data-chart="${id}"] canvas`);
      const ink = await canvasInk(page, `[data-chart="${id}"] canvas`);
      assert.ok(ink.painted > 2_000 && ink.colours > 3, `${id} chart is blank: ${JSON.stringify(ink)}`);
    }
    // The intensity chart carries the stored 48-hour forecast and its band, also in its data table.
    const header = await page.locator('#intensity thead').textContent();
    assert.match(header ?? '', /Forecast low/);
    assert.match(await page.locator('#intensity figcaption').textContent() ?? '', /48-hour forecast range/);
  });

  it('switches BA and day, and the data table follows', async () => {
    const page = await newPage();
    const errors = collectErrors(page);
    await page.goto(`${site.url}/ba/CISO`, { waitUntil: 'networkidle' });
    await page.selectOption('select[name="code"]', 'ERCO');
    await page.waitForURL(/\/ba\/ERCO$/);
    await page.waitForFunction(() => document.querySelector('h1')?.textContent?.startsWith('ERCO'));
    const day = daysAgo('America/Chicago', 2); // the page opens on the latest complete day: pick another
    await page.fill('input[name="date"]', day);
    await page.waitForURL(new RegExp(`/ba/ERCO\\?date=${day}$`));
    await page.waitForFunction((d) => document.querySelector('#charts-h')?.textContent?.includes(`to ${d}`), day);
    await page.click('a[rel="prev"]');
    const before = new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    await page.waitForURL(new RegExp(`date=${before}$`));
    await page.waitForFunction((d) => document.querySelector('#charts-h')?.textContent?.includes(`to ${d}`), before);
    assert.deepEqual(errors, []);
  });

  it('keeps preferences (theme, time display, default BA) across a reload', async () => {
    const page = await newPage();
    await page.goto(`${site.url}/`, { waitUntil: 'networkidle' });
    await page.selectOption('section.mine select[name="ba"]', 'ERCO');
    await page.click('section.mine button[type="submit"]');
    await page.waitForSelector('header nav a[href="/ba/ERCO"]');
    await page.click('details.settings summary');
    await page.selectOption('details.settings select[name="theme"]', 'dark');
    await page.selectOption('details.settings select[name="time"]', 'utc');
    await page.click('details.settings button[type="submit"]');
    await page.waitForSelector('html[data-theme="dark"]');
    await page.reload({ waitUntil: 'networkidle' });
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
    assert.equal(await page.locator('header nav a[href="/ba/ERCO"]').count(), 1);
    await page.goto(`${site.url}/ba/CISO`, { waitUntil: 'networkidle' });
    assert.match((await page.locator('.fresh').first().textContent()) ?? '', /UTC/);
  });

  it('works from the keyboard: skip link, settings disclosure, BA links', async () => {
    const page = await newPage();
    await page.goto(`${site.url}/`, { waitUntil: 'networkidle' });
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.match(page.url(), /#main$/);
    await page.focus('details.settings summary');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => (document.querySelector('details.settings') as HTMLDetailsElement).open), true);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'time');
    await page.focus('table.bas a[href="/ba/CISO"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/ba\/CISO$/);
  });

  it('renders an embed inside an iframe of another origin, and refuses to frame other pages', async () => {
    const page = await newPage();
    await page.goto(framerUrl, { waitUntil: 'networkidle' });
    const embed = page.frameLocator('#embed');
    await embed.locator('.embed-card').waitFor();
    assert.match((await embed.locator('.embed-card').textContent()) ?? '', /CISO/);
    const framed = page.frames().find((f) => f.parentFrame() && !f.url().includes('/embed/'));
    assert.ok(framed, 'second frame exists');
    // Chrome replaces a refused frame with its own error page.
    assert.match(framed.url(), /^chrome-error:/, 'the BA page was allowed inside a foreign frame');
    assert.doesNotMatch(await framed.content(), /California Independent System Operator/);
  });

  it('has no serious or critical axe-core violations', async () => {
    const page = await newPage();
    const found: string[] = [];
    for (const [name, path] of PAGES) {
      await page.goto(site.url + path, { waitUntil: 'networkidle' });
      found.push(...await axeProblems(page, name));
    }
    assert.deepEqual(found, []);
  });

  it('updates an open BA page when a new hour lands, without a reload', async () => {
    const page = await newPage();
    await page.goto(`${site.url}/ba/CISO`, { waitUntil: 'networkidle' });
    await page.waitForFunction(() => document.body.textContent?.includes('● live'));
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
    const refetch = page.waitForRequest((r) => r.url().includes('.data'));
    const newest = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
    await site.db.query(`SELECT pg_notify('gridpulse_hours', $1)`, [JSON.stringify({ bas: ['CISO'], newest, source: 'simulated' })]);
    await refetch;
    await page.waitForFunction(() => document.body.textContent?.includes('updated with data to'));
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page reloaded');
  });
});
