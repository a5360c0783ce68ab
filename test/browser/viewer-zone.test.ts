import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext } from 'playwright-core';
import { needs } from './support/availability.ts';
import { collectHydrationProblems, launchChromium } from './support/browser.ts';
import { startSite, type Site } from './support/site.ts';
import { formCredentials } from '../support/form-post.ts';

const TOKYO = 'Asia/Tokyo';
/** The page's own "14:00" style (en-GB, 24 h), computed here independently of the app's code. */
const hhmm = (iso: string, timeZone: string) =>
  new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
/** Text of server-rendered HTML: React's `<!-- -->` text separators dropped. */
const plain = (html: string) => html.replace(/<!-- -->/g, '');

/** The first "data through" time of a BA page's HTML: its instant (the datetime attribute) and its text. */
function freshTime(html: string): { instant: string; text: string } {
  const m = /<span class="fresh[^"]*"[^>]*>(?:(?!<\/span>)[\s\S])*?<time dateTime="([^"]+)">([^<]*)<\/time>/i.exec(plain(html));
  assert.ok(m, 'no freshness time in the page');
  return { instant: m[1]!, text: m[2]! };
}

describe('times in the viewer\'s own zone', needs({ chromium: true }), () => {
  let site: Site;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const newContext = async (opts: { timezoneId: string; javaScriptEnabled?: boolean }) => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
    contexts.push(ctx);
    return ctx;
  };
  const cookieHeader = async (ctx: BrowserContext) => (await ctx.cookies(site.url)).map((c) => `${c.name}=${c.value}`).join('; ');
  const storedZone = async (ctx: BrowserContext) => {
    const raw = (await ctx.cookies(site.url)).find((c) => c.name === 'gp_prefs')?.value;
    return raw ? new URLSearchParams(decodeURIComponent(raw)).get('zone') : null;
  };
  const serverHtml = async (path: string, cookie: string) => {
    const res = await fetch(site.url + path, { headers: { cookie } });
    assert.equal(res.status, 200, path);
    return res.text();
  };

  before(async () => {
    site = await startSite({ bas: ['CISO'], days: 2 });
    browser = await launchChromium();
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await site?.close();
  });

  it('records the zone when "my local time" is chosen; the server renders Tokyo times and hydration keeps them', async () => {
    const ctx = await newContext({ timezoneId: TOKYO });
    const page = await ctx.newPage();
    const problems = collectHydrationProblems(page);
    await page.goto(`${site.url}/ba/CISO`, { waitUntil: 'networkidle' });
    await page.click('details.settings summary');
    await page.selectOption('details.settings select[name="time"]', 'viewer');
    await page.click('details.settings button[type="submit"]');
    await page.waitForFunction((tz) => document.querySelector('.fresh time')?.textContent?.endsWith(tz), TOKYO);
    assert.equal(await storedZone(ctx), TOKYO);

    // What the server sends for that cookie, before any script runs: Tokyo times, labelled.
    const html = await serverHtml('/ba/CISO', await cookieHeader(ctx));
    const fresh = freshTime(html);
    assert.equal(fresh.text, `${hhmm(fresh.instant, TOKYO)} ${TOKYO}`);
    assert.notEqual(hhmm(fresh.instant, TOKYO), hhmm(fresh.instant, 'America/Los_Angeles'), 'Tokyo and California hours differ');
    const nowHour = /<h2 id="now-h">Now: hour from (\d\d:\d\d) ([^<]+)<\/h2>/.exec(plain(html));
    assert.ok(nowHour, 'no "Now" heading');
    assert.equal(nowHour[2], TOKYO);
    assert.match(plain(html), new RegExp(`<option value="viewer"[^>]*>my local time \\(${TOKYO}\\)</option>`));
    assert.match(plain(html), new RegExp(`<input type="hidden" name="zone" value="${TOKYO}"/>`));

    // A reload hydrates to the very same text, with no second round trip to switch zones.
    const dataRequests: string[] = [];
    page.on('request', (r) => { if (r.url().includes('.data')) dataRequests.push(r.url()); });
    await page.reload({ waitUntil: 'networkidle' });
    assert.equal(await page.locator('.fresh time').first().textContent(), fresh.text);
    assert.equal(await page.locator('#now-h').textContent(), `Now: hour from ${nowHour[1]} ${TOKYO}`);
    assert.deepEqual(dataRequests, [], 'the page re-fetched its data after hydration');
    assert.deepEqual(problems, []);
  });

  it('without JavaScript shows UTC (and says so); the first page with JavaScript records the zone', async () => {
    const noJs = await newContext({ timezoneId: TOKYO, javaScriptEnabled: false });
    const page = await noJs.newPage();
    await page.goto(`${site.url}/ba/CISO`);
    await page.click('details.settings summary');
    await page.selectOption('details.settings select[name="time"]', 'viewer');
    await Promise.all([page.waitForURL(`${site.url}/ba/CISO`), page.click('details.settings button[type="submit"]')]);
    await page.waitForLoadState('load');
    assert.equal(await storedZone(noJs), null);
    const utcText = await page.locator('.fresh time').first().textContent();
    assert.match(utcText ?? '', /^\d\d:\d\d UTC$/);
    assert.match(await page.locator('select[name="time"] option[value="viewer"]').textContent() ?? '', /not known yet: UTC/);

    // The same visitor with JavaScript (say Paris this time): hydrates the UTC page as served, then records Paris.
    const js = await newContext({ timezoneId: 'Europe/Paris' });
    await js.addCookies(await noJs.cookies(site.url));
    const jsPage = await js.newPage();
    const problems = collectHydrationProblems(jsPage);
    await jsPage.goto(`${site.url}/ba/CISO`, { waitUntil: 'networkidle' });
    await jsPage.waitForFunction(() => document.querySelector('.fresh time')?.textContent?.endsWith('Europe/Paris'));
    assert.equal(await storedZone(js), 'Europe/Paris');
    assert.equal(freshTime(await serverHtml('/ba/CISO', await cookieHeader(js))).text.endsWith(' Europe/Paris'), true);

    // Travelling to Tokyo: the next page load there moves the stored zone along.
    const travel = await newContext({ timezoneId: TOKYO });
    await travel.addCookies(await js.cookies(site.url));
    const travelPage = await travel.newPage();
    const travelProblems = collectHydrationProblems(travelPage);
    await travelPage.goto(`${site.url}/pipeline`, { waitUntil: 'networkidle' });
    await travelPage.waitForFunction((tz) => document.querySelector('main p')?.textContent?.includes(`Times in ${tz}.`), TOKYO);
    assert.equal(await storedZone(travel), TOKYO);
    assert.deepEqual([...problems, ...travelProblems], []);
  });

  it('never trusts the zone in the cookie: a bad or hostile value renders UTC and is not reflected', async () => {
    for (const zone of ['Mars/Olympus_Mons', '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', 'Asia/Tokyo"; x="', '']) {
      const cookie = `gp_prefs=${encodeURIComponent(new URLSearchParams({ time: 'viewer', zone }).toString())}`;
      const html = await serverHtml('/ba/CISO', cookie);
      assert.match(freshTime(html).text, /^\d\d:\d\d UTC$/, zone);
      if (zone) {
        assert.ok(!html.includes(zone), `${zone} reflected`);
        assert.ok(!html.includes(JSON.stringify(zone).slice(1, -1)), `${zone} reflected in the loader data`);
      }
      assert.ok(!/<script>alert|onerror=/.test(html), zone);
    }
    // The form (no JavaScript) too: a hostile zone is dropped and the redirect stays on this site.
    const { cookie: csrfCookie, csrf } = await formCredentials(site.app);
    for (const [payload, zone, location] of [
      ['time=viewer&zone=Asia%2FTokyo&redirectTo=%2Fba%2FCISO', TOKYO, '/ba/CISO'],
      ['time=viewer&zone=%3Cscript%3E&redirectTo=%2F%2Fevil.example', null, '/'],
      ['time=viewer&zone=&redirectTo=%2F%5Cevil.example', null, '/'],
    ] as const) {
      const res = await fetch(`${site.url}/prefs`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie }, body: `${payload}&csrf=${csrf}` });
      assert.equal(res.status, 303, payload);
      assert.equal(res.headers.get('location'), location, payload);
      const cookie = res.headers.getSetCookie()[0] ?? '';
      assert.equal(new URLSearchParams(decodeURIComponent(/^gp_prefs=([^;]*)/.exec(cookie)?.[1] ?? '')).get('zone'), zone, payload);
    }
  });
});
