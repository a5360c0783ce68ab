import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { invalidateBa } from '../../src/analytics/shared/analytics-cache.ts';
import type { Cache } from '../../src/platform/cache.ts';
import { loadBaHours } from '../../src/analytics/shared/hourly.ts';
import type { Db } from '../../src/platform/db.ts';
import { needs } from './support/availability.ts';
import { startSite, type Site } from './support/site.ts';
import { formCredentials } from '../support/form-post.ts';
import fc from 'fast-check';

const HOUR = 3_600_000;

/** Reads an SSE stream until `until` matches the text received so far. */
function readSse(url: string, until: RegExp, onOpen: () => void, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`timed out; got ${JSON.stringify(text)}`)); }, timeoutMs);
    const req = http.get(url, (res) => {
      res.setEncoding('utf8');
      let opened = false;
      res.on('data', (chunk: string) => {
        text += chunk;
        if (!opened) { opened = true; onOpen(); }
        if (until.test(text)) { clearTimeout(timer); req.destroy(); resolve(text); }
      });
    });
    req.on('error', (err) => { if (!until.test(text)) { clearTimeout(timer); reject(err); } });
  });
}

for (const target of testDatabases()) {
  describe(`web over HTTP on ${target.name}`, needs({}), () => {
    let site: Site;
    let db: Db;
    let app: FastifyInstance;
    let cache: Cache;
    let base: string;
    before(async () => {
      // nine days: the forecast track record scores an hour only beside both naive references (same hour yesterday and a week before)
      site = await startSite({ store: target, bas: ['CISO'], days: 9 });
      ({ db, app, cache, url: base } = site);
    });
    after(() => site?.close());

    it('server-renders the BA page with its numbers (no JavaScript needed)', async () => {
      const res = await app.inject('/ba/CISO');
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /text\/html/);
      const end = Math.floor(Date.now() / HOUR) * HOUR;
      const hours = (await loadBaHours(db, 'CISO', new Date(end - 24 * HOUR), new Date(end + HOUR)))!;
      const lastDemand = hours.demand.filter((v) => v !== null).at(-1)!;
      assert.ok(res.body.includes(`<td>${Math.round(lastDemand).toLocaleString('en-US')}</td>`), 'newest demand value in the data table');
      assert.match(res.body, /data through/);
      assert.match(res.body, /simulated/i);
    });

    it('answers "how clean is my power" for a ZIP code in words, with the page\'s own API answer, and says what it cannot read', async () => {
      const answer = (await app.inject('/api/v1/bas/CISO/answer?duration=PT3H')).json();
      const html = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      const page = await app.inject('/?where=94110');
      assert.equal(page.statusCode, 200);
      assert.ok(page.body.includes('94110, CA is served by California Independent System Operator (CISO).'), 'the place and its BA');
      assert.ok(page.body.includes(html(answer.sentence)), `the answer in words: ${answer.sentence}`);
      assert.match(answer.sentence, /^Now: \d+ g\/kWh/);
      assert.ok(page.body.includes('href="/ba/CISO"'));
      assert.ok((await app.inject('/ba/CISO')).body.includes(html(answer.sentence)), 'the BA page says the same at the top');
      assert.ok((await app.inject('/?where=nowhere')).body.includes('Type a 5-digit ZIP code (94110) or a 2-letter state code (TX).'));
      assert.ok((await app.inject('/?where=00000')).body.includes('GridPulse does not know 00000.'));
      const houston = await app.inject('/?where=77002');
      assert.ok(houston.body.includes('77002, TX is served by'), 'several BAs: the likeliest first');
      assert.ok(houston.body.includes('also serves part of it.'));
    });

    it('tells how the stored intensity forecasts did, once observed hours can score them', async () => {
      const end = Math.floor(Date.now() / HOUR) * HOUR;
      const dataThrough = new Date(end - 30 * HOUR);
      const madeAt = new Date(dataThrough.getTime() + HOUR);
      await db.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ('CISO', 'intensity', $1, 'm', 'simulated', $2, 1)`, [madeAt, dataThrough]);
      for (let lead = 1; lead <= 24; lead++) {
        await db.query(`INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model) VALUES ('CISO', 'intensity', $1, $2, 300, 250, 350, 'm')`,
          [madeAt, new Date(dataThrough.getTime() + lead * HOUR)]);
      }
      await invalidateBa(cache, 'CISO'); // as the forecast job does after storing its runs
      const accuracy = (await app.inject('/api/v1/bas/CISO/forecast/accuracy?days=7')).json();
      const track = accuracy.targets.intensity.all;
      assert.ok(track.hours > 0 && track.mapePct > 0, JSON.stringify(track));
      const page = await app.inject('/ba/CISO');
      assert.ok(page.body.includes(`the stored forecasts were off by ${track.mapePct.toFixed(1)} % on average (repeating the last observed day: ${track.naiveMapePct.toFixed(1)} %; ${track.hours} forecast hours)`), 'the track record under the intensity chart');
    });

    it('shows a retired BA as retired in its embeds, not as waiting for data', async () => {
      for (const kind of ['now', 'pulse', 'clean-window']) {
        const res = await app.inject(`/embed/ba/WACM/${kind}`);
        assert.equal(res.statusCode, 200, kind);
        assert.ok(res.body.includes('WACM retired 2026-03-31: EIA-930 has no newer hours'), kind);
        assert.ok(!res.body.includes('no data available yet'), kind);
      }
    });

    it('redirects lower-case codes and answers 404 for unknown BAs and embed kinds', async () => {
      const lower = await app.inject('/ba/ciso?date=2025-01-01');
      assert.equal(lower.statusCode, 301);
      assert.equal(lower.headers.location, '/ba/CISO?date=2025-01-01');
      assert.equal((await app.inject('/ba/NOPE')).statusCode, 404);
      assert.equal((await app.inject('/embed/ba/CISO/bogus')).statusCode, 404);
      assert.equal((await app.inject('/no/such/page')).statusCode, 404);
    });

    it('lets only embeds and badges be framed by other sites', async () => {
      const page = await app.inject('/');
      assert.equal(page.headers['content-security-policy'], "frame-ancestors 'self'");
      assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN');
      const embed = await app.inject('/embed/ba/CISO/now');
      assert.equal(embed.statusCode, 200);
      assert.equal(embed.headers['content-security-policy'], 'frame-ancestors *');
      assert.equal(embed.headers['x-frame-options'], undefined);
    });

    it('compresses pages and assets for clients that accept it', async () => {
      const page = await app.inject({ url: '/ba/CISO', headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(page.headers['content-encoding'], 'br');
      const plain = await app.inject('/ba/CISO');
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.ok(page.rawPayload.length * 3 < plain.rawPayload.length, `${page.rawPayload.length} vs ${plain.rawPayload.length} bytes`);
      const api = await app.inject({ url: '/api/v1/bas', headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(api.headers['content-encoding'], 'br', 'the API too');
    });

    it('leaves /api/v1 and /docs to the API', async () => {
      const missing = await app.inject('/api/v1/no-such-endpoint');
      assert.equal(missing.statusCode, 404);
      assert.match(missing.headers['content-type'] as string, /application\/problem\+json/);
      assert.equal((await app.inject('/docs/')).statusCode, 200);
      assert.equal((await app.inject('/api/v1/bas/CISO')).json().data.code, 'CISO');
    });

    it('keeps preferences in a cookie through a plain form post, redirecting only on-site', async () => {
      const { cookie: csrfCookie, csrf } = await formCredentials(app);
      const form = 'application/x-www-form-urlencoded';
      const post = await app.inject({ method: 'POST', url: '/prefs', headers: { 'content-type': form, cookie: csrfCookie }, payload: `theme=dark&time=utc&ba=ciso&redirectTo=%2Fcompare&csrf=${csrf}` });
      assert.equal(post.statusCode, 303);
      assert.equal(post.headers.location, '/compare');
      const cookie = ([] as string[]).concat(post.headers['set-cookie'] ?? []).find((c) => c.startsWith('gp_prefs='))!.split(';')[0]!;
      const page = await app.inject({ url: '/', headers: { cookie } });
      assert.match(page.body, /<html lang="en" data-theme="dark">/);
      assert.match(page.body, /href="\/ba\/CISO"/);
    });

    it('never redirects a form post off the site, whatever the encoding of redirectTo', async () => {
      const { cookie, csrf } = await formCredentials(app);
      const site = 'http://gridpulse.test';
      const locationOf = async (redirectTo: string) => {
        const res = await app.inject({ method: 'POST', url: '/prefs', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
          payload: new URLSearchParams({ theme: 'light', redirectTo, csrf }).toString() });
        assert.equal(res.statusCode, 303, redirectTo);
        return String(res.headers.location);
      };
      // The browser resolves Location against the page: the result must be this site and one of its pages.
      const onSite = (location: string) => {
        const url = new URL(location, site);
        return url.origin === site && /^\/(ba(\/[A-Za-z0-9]{2,6})?|compare|pipeline|methodology)?$/.test(url.pathname) && !location.startsWith('//');
      };
      for (const evil of ['/.//evil.example', '//evil.example', '/\\evil.example', '/./\\evil.example', '/%2F%2Fevil.example', '/..//evil.example',
        '/ba/..//evil.example', '/\t/evil.example', '/.%2F/evil.example', 'https://evil.example', '/\\/evil.example', '/ba/CISO/..//..//evil.example']) {
        const location = await locationOf(evil);
        assert.ok(onSite(location), `${JSON.stringify(evil)} → ${location}`);
        assert.ok(!location.includes('evil'), `${JSON.stringify(evil)} → ${location}`);
      }
      assert.equal(await locationOf('/ba/CISO?date=2025-01-01'), '/ba/CISO?date=2025-01-01');
      // Path-like strings built from the pieces open redirects are made of.
      const piece = fc.constantFrom('/', '//', '.', '..', '\\', '%2F', '%2f', '%5C', '%2E', '\t', '\n', '@', ':', 'evil.example', 'ba', 'CISO', '?', '#', 'http:', '%00', ' ');
      await fc.assert(fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 8 }), async (parts) => {
        const location = await locationOf(`/${parts.join('')}`);
        assert.ok(onSite(location), `${JSON.stringify(parts.join(''))} → ${location}`);
      }), { numRuns: 150 });
    });

    it('refuses cross-site and forged form posts, and bodies that are not a form', async () => {
      const { cookie, csrf } = await formCredentials(app);
      const other = await formCredentials(app); // another visitor's pair
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const payload = (token?: string) => `theme=dark&redirectTo=%2F${token === undefined ? '' : `&csrf=${token}`}`;
      for (const [headers, body, field] of [
        [{ ...form, cookie, origin: 'https://evil.example' }, payload(csrf), 'origin'],
        [{ ...form, cookie, origin: 'null' }, payload(csrf), 'origin'],
        [{ ...form, cookie, 'sec-fetch-site': 'cross-site' }, payload(csrf), 'origin'],
        [{ ...form, cookie }, payload(), 'csrf'],
        [{ ...form, cookie }, payload(other.csrf), 'csrf'],
        [{ ...form }, payload(csrf), 'csrf'],
        [{ ...form, cookie: other.cookie }, payload(csrf), 'csrf'],
      ] as const) {
        for (const url of ['/prefs', '/prefs.data']) {
          const res = await app.inject({ method: 'POST', url, headers, payload: body });
          assert.equal(res.statusCode, 403, `${url} ${JSON.stringify(headers)} ${body}`);
          assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
          assert.equal(res.json().field, field);
          assert.ok(!([] as string[]).concat(res.headers['set-cookie'] ?? []).some((c) => c.startsWith('gp_prefs=')), 'nothing saved');
        }
      }
      // The site's own form, as a browser sends it (Origin of this host), with and without JavaScript.
      const host = 'localhost:80';
      for (const url of ['/prefs', '/prefs.data']) {
        const ok = await app.inject({ method: 'POST', url, headers: { ...form, cookie, host, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }, payload: payload(csrf) });
        assert.ok(ok.statusCode < 400, `${url}: ${ok.statusCode}`);
        assert.ok(([] as string[]).concat(ok.headers['set-cookie'] ?? []).some((c) => c.startsWith('gp_prefs=')), url);
      }
      for (const [type, body] of [['application/json', '{"theme":"dark"}'], ['multipart/form-data; boundary=x', '--x--'], ['text/plain', 'theme=dark']]) {
        const res = await app.inject({ method: 'POST', url: '/prefs', headers: { 'content-type': type, cookie }, payload: body });
        assert.equal(res.statusCode, 415, type);
        assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
        assert.equal(res.json().field, 'content-type');
      }
      // No CORS on the form, and a preflight for it is refused.
      const pre = await app.inject({ method: 'OPTIONS', url: '/prefs', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
      assert.ok(pre.statusCode >= 400);
      assert.equal(pre.headers['access-control-allow-origin'], undefined);
    });

    it('answers HEAD on pages as GET without the body, and wrong methods with 405', async () => {
      for (const url of ['/', '/ba/CISO', '/ba/NOPE']) {
        const [get, head] = [await app.inject(url), await app.inject({ method: 'HEAD', url })];
        assert.equal(head.statusCode, get.statusCode, url);
        assert.equal(head.headers['content-type'], 'text/html; charset=utf-8', url);
        assert.equal(head.body, '', url);
      }
      for (const [method, url, allow] of [['POST', '/', 'GET, HEAD'], ['PUT', '/ba/CISO', 'GET, HEAD'], ['DELETE', '/prefs', 'GET, HEAD, POST']] as const) {
        const res = await app.inject({ method, url });
        assert.equal(res.statusCode, 405, `${method} ${url}`);
        assert.equal(res.headers.allow, allow, `${method} ${url}`);
      }
    });

    it('serves badges, and problem+json naming the field for bad ones', async () => {
      const ok = await app.inject('/badge/CISO.svg');
      assert.equal(ok.statusCode, 200);
      assert.match(ok.headers['content-type'] as string, /image\/svg\+xml/);
      assert.match(ok.body, /CISO/);
      const unknown = await app.inject('/badge/NOPE.svg');
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json().field, 'code');
      assert.equal((await app.inject('/badge/not-a-code.svg')).statusCode, 400);
    });

    it('serves the manifest and fingerprinted assets with long caching', async () => {
      const manifest = await app.inject('/manifest.webmanifest');
      assert.equal(manifest.statusCode, 200);
      const doc = JSON.parse(manifest.body) as { short_name: string; start_url: string; icons: Array<{ src: string; sizes: string }> };
      assert.equal(doc.short_name, 'GridPulse');
      assert.ok(doc.icons.some((i) => i.sizes === '512x512') && doc.icons.some((i) => i.sizes === '192x192'), 'installable icon sizes');
      for (const icon of doc.icons) assert.equal((await app.inject(icon.src)).statusCode, 200, icon.src);
      const asset = /\/assets\/[^"]+\.js/.exec((await app.inject('/')).body)![0];
      const res = await app.inject(asset);
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['cache-control'] as string, /immutable/);
    });

    it('validates the live stream parameters', async () => {
      const unknown = await app.inject('/api/v1/live?ba=NOPE');
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json().field, 'ba');
      assert.equal((await app.inject('/api/v1/live?ba=bad!')).statusCode, 400);
    });

    it('streams a change event to live subscribers when ingestion notifies', async () => {
      const payload = JSON.stringify({ bas: ['CISO'], newest: '2025-07-01T17:00:00.000Z', source: 'eia' });
      const other = JSON.stringify({ bas: ['ERCO'], newest: '2025-07-01T18:00:00.000Z', source: 'eia' });
      const text = await readSse(`${base}/api/v1/live?ba=CISO`, /event: hours\ndata: .*\n\n/, () => {
        // The hub subscribes on the first stream; give LISTEN a moment before notifying.
        setTimeout(() => { void db.query(`SELECT pg_notify('gridpulse_hours', $1), pg_notify('gridpulse_hours', $2)`, [other, payload]); }, 300);
      });
      assert.match(text, /^retry: 10000/);
      assert.ok(text.includes(`event: hours\ndata: ${payload}\n\n`), text);
      assert.ok(!text.includes('ERCO'), 'events for other BAs are filtered out');
    });
  });
}
