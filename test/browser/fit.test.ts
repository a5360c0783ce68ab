import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Frame, Locator } from 'playwright-core';
import { needs } from './support/availability.ts';
import { collectErrors, launchChromium } from './support/browser.ts';
import { startSite, type Site } from './support/site.ts';
import { EMBED_KINDS } from '../../src/web/app/lib/embed-kinds.ts';

// the embeds' README screenshots are rewritten with UPDATE_SCREENSHOTS=1; a plain test run leaves the checkout clean
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? new URL('../../docs/screenshots/', import.meta.url)
  : pathToFileURL(`${mkdtempSync(path.join(tmpdir(), 'gp-embed-shots-'))}/`);
const LAPTOP = { width: 1366, height: 768 };
const CISO_NEIGHBOURS = ['AZPS', 'BANC', 'BPAT', 'IID', 'LDWP', 'NEVP', 'PACW', 'SRP', 'TIDC', 'WALC'];

/** What each embed must show inside its box: the source label, freshness, and its own figures. */
const MUST_SHOW: Record<string, string[]> = {
  now: ['[data-embed="source"] .tag-sim', '[data-embed="freshness"] .fresh', '[data-embed="renewable"]', '[data-embed="demand"]', '.chip'],
  pulse: ['[data-embed="source"] .tag-sim', '[data-embed="freshness"] .fresh', '[data-embed="demand"]', '[data-embed="renewable"]'],
  'clean-window': ['[data-embed="source"] .tag-sim', '[data-embed="freshness"] .fresh', '[data-embed="savings"]', '.embed-when'],
};

describe('what is shown fits its box', needs({ chromium: true }), () => {
  let site: Site;
  let browser: Browser;
  let host: http.Server;
  let hostUrl: string;
  let snippets: Record<string, string> = {};
  const contexts: BrowserContext[] = [];
  const newPage = async (viewport = LAPTOP) => {
    const ctx = await browser.newContext({ viewport });
    contexts.push(ctx);
    return ctx.newPage();
  };

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    // CISO and its ten neighbours (the reported repeats: AZPS/TIDC, BANC/WALC), and big eastern BAs for the widest figures
    site = await startSite({ bas: ['CISO', ...CISO_NEIGHBOURS, 'PJM', 'ERCO', 'MISO'], forecastFor: 'CISO' });
    browser = await launchChromium();
    // The snippets exactly as the BA page offers them (their URL and suggested size), pasted into a page of another origin.
    const html = await (await fetch(`${site.url}/ba/CISO`)).text();
    snippets = Object.fromEntries(EMBED_KINDS.map((k) => {
      const m = new RegExp(`<textarea id="embed-${k.kind}"[^>]*>([^<]*)</textarea>`).exec(html);
      assert.ok(m, `no ${k.kind} snippet`);
      return [k.kind, m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&')];
    }));
    host = http.createServer((req, res) => {
      const kind = (req.url ?? '/').slice(1);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>a blog</title><body style="margin:0;background:#eee">${snippets[kind] ?? ''}</body>`);
    });
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    // localhost vs 127.0.0.1: another origin than the site's
    hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await new Promise((r) => host?.close(r));
    await site?.close();
  });

  for (const k of EMBED_KINDS) {
    it(`the ${k.kind} embed shows its source, freshness and figures at ${k.width}×${k.height} in a cross-origin iframe`, async () => {
      assert.match(snippets[k.kind]!, new RegExp(`src="${site.url}/embed/ba/CISO/${k.kind}".* width="${k.width}" height="${k.height}"`));
      const page = await newPage();
      const errors = collectErrors(page);
      await page.goto(`${hostUrl}/${k.kind}`, { waitUntil: 'networkidle' });
      const iframe = page.locator('iframe');
      const frameBox = (await iframe.boundingBox())!;
      assert.equal(Math.round(frameBox.width), k.width);
      assert.equal(Math.round(frameBox.height), k.height);
      const frame: Frame = (await (await iframe.elementHandle())!.contentFrame())!;
      assert.notEqual(new URL(frame.url()).origin, new URL(page.url()).origin, 'the embed is cross-origin');
      await frame.locator('.embed-card').waitFor();
      const inside = async (what: string, el: Locator) => {
        assert.equal(await el.count() > 0, true, `${k.kind}: no ${what}`);
        const box = await el.first().boundingBox();
        assert.ok(box && box.width > 0 && box.height > 0, `${k.kind}: ${what} is not drawn`);
        const out = box.x < frameBox.x - 0.5 || box.y < frameBox.y - 0.5 || box.x + box.width > frameBox.x + frameBox.width + 0.5 || box.y + box.height > frameBox.y + frameBox.height + 0.5;
        assert.ok(!out, `${k.kind}: ${what} at ${JSON.stringify(box)} is cut off by the ${k.width}×${k.height} frame at ${JSON.stringify(frameBox)}`);
        // not clipped inside either: no ellipsis or hidden overflow of its own
        const clipped = await el.first().evaluate((e) => e.scrollWidth > e.clientWidth + 1);
        assert.ok(!clipped, `${k.kind}: ${what} is clipped`);
      };
      for (const sel of MUST_SHOW[k.kind]!) await inside(sel, frame.locator(sel));
      assert.match(await frame.locator('[data-embed="source"] .tag-sim').first().innerText(), /SIMULATED/);
      assert.match(await frame.locator('[data-embed="freshness"]').innerText(), /data through \d\d:\d\d \S+, \d+ (min|h|d) ago/);
      if (k.kind === 'clean-window') assert.match(await frame.locator('[data-embed="savings"]').innerText(), /\d+ % less than now/);
      // the link back, last in the box, is inside it too
      await inside('link to GridPulse', frame.locator('a[target="_top"]'));
      await iframe.screenshot({ path: new URL(`embed-${k.kind}.png`, SCREENSHOTS).pathname });
      assert.deepEqual(errors, []);
    });
  }

  it('at 1366 px, energy and interchange figures stay inside their cards on every BA page', async () => {
    const page = await newPage();
    for (const code of ['PJM', 'MISO', 'ERCO', 'CISO']) {
      await page.goto(`${site.url}/ba/${code}`, { waitUntil: 'networkidle' });
      const cards = await page.$$eval('.card', (els) => els.map((e) => ({ title: e.querySelector('h3')?.textContent ?? '', scroll: e.scrollWidth, client: e.clientWidth, big: (e.querySelector('.big') as HTMLElement | null)?.innerText ?? '' })));
      assert.ok(cards.length >= 10, `${code}: ${cards.length} cards`);
      for (const c of cards) assert.ok(c.scroll <= c.client, `${code}: card "${c.title}" (${c.big}) is ${c.scroll} px wide in a ${c.client} px card`);
      // and no figure runs out of its card into the next one
      const spill = await page.$$eval('.card .big', (els) => els.filter((e) => {
        const card = e.closest('.card')!.getBoundingClientRect();
        return [...e.getClientRects()].some((r) => r.right > card.right + 0.5);
      }).map((e) => (e as HTMLElement).innerText));
      assert.deepEqual(spill, [], code);
    }
  });

  it('at 1366 px, /compare shows every column\'s SIMULATED tag whole, inside its cell', async () => {
    const page = await newPage();
    await page.goto(`${site.url}/compare?bas=CISO,PJM,ERCO,BPAT,MISO,AZPS`, { waitUntil: 'networkidle' });
    const scroller = await page.$eval('.table-scroll', (e) => ({ scroll: e.scrollWidth, client: e.clientWidth }));
    assert.ok(scroller.scroll <= scroller.client, `the table scrolls sideways: ${JSON.stringify(scroller)}`);
    const tags = await page.$$eval('table.compare tr:last-child .tag-sim', (els) => els.map((e) => {
      const t = e.getBoundingClientRect();
      const cell = e.closest('td')!.getBoundingClientRect();
      return { inside: t.left >= cell.left - 0.5 && t.right <= cell.right + 0.5 && t.top >= cell.top - 0.5 && t.bottom <= cell.bottom + 0.5, whole: e.scrollWidth <= e.clientWidth + 1, w: t.width };
    }));
    assert.equal(tags.length, 6);
    for (const t of tags) assert.ok(t.inside && t.whole && t.w > 30, JSON.stringify(t));
  });

  it('gives every interchange neighbour its own colour', async () => {
    const page = await newPage();
    for (const [code, neighbours] of [['CISO', CISO_NEIGHBOURS.length], ['BANC', 3]] as const) {
      await page.goto(`${site.url}/ba/${code}`, { waitUntil: 'networkidle' });
      await page.waitForSelector('[data-chart="interchange"] canvas');
      const legend = await page.$$eval('#interchange .u-legend .u-series:not(:first-child)', (els) => els.map((e) => ({
        ba: e.querySelector('.u-label')?.textContent ?? '', colour: getComputedStyle(e.querySelector('.u-marker')!).borderColor,
      })));
      assert.equal(legend.length, neighbours, `${code}: ${JSON.stringify(legend)}`);
      const byColour = Map.groupBy(legend, (l) => l.colour);
      const repeats = [...byColour.values()].filter((g) => g.length > 1).map((g) => g.map((l) => l.ba).join('/'));
      assert.deepEqual(repeats, [], `${code}: neighbours sharing a colour`);
    }
  });

  it('/docs has a way back to the site', async () => {
    const page = await newPage();
    await page.goto(`${site.url}/docs`, { waitUntil: 'networkidle' });
    const back = page.getByRole('link', { name: /Back to the GridPulse site/ });
    await back.waitFor();
    assert.equal(await back.getAttribute('href'), '/');
    assert.ok(await back.isVisible(), 'the link is on screen when the reference opens');
    // it leads to the site's home page
    const home = await page.context().request.get(new URL(await back.getAttribute('href') ?? '', page.url()).href);
    assert.equal(home.status(), 200);
    assert.match(await home.text(), /<h1>The US grid, hour by hour<\/h1>/);
  });
});
