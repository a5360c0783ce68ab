import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { API_TAGS } from '../../src/platform/openapi-tags.ts';
import { EMBED_KINDS } from '../../src/web/app/lib/embed-kinds.ts';
import { needs } from './support/availability.ts';
import { startSite, type Site } from './support/site.ts';

/** Text of server-rendered HTML: React's `<!-- -->` separators dropped, entities of quotes read back. */
const text = (html: string) => html.replace(/<!-- -->/g, '').replace(/&#x27;|&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const isRealDate = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`))
  && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s) && s >= '2000-01-01' && s < '2100-01-01';

for (const target of testDatabases()) {
  describe(`pages refuse what they cannot honour, on ${target.name}`, needs({}), () => {
    let site: Site;
    let app: FastifyInstance;
    before(async () => { site = await startSite({ store: target, bas: ['PJM'], days: 2 }); ({ app } = site); });
    after(() => site?.close());

    const page = async (url: string) => {
      const res = await app.inject({ url, headers: { accept: 'text/html' } });
      return { status: res.statusCode, type: String(res.headers['content-type']), body: text(res.body), location: res.headers.location };
    };

    it('answers 400 naming `date` for a day that does not exist, never another day', async () => {
      for (const bad of ['garbage', '2026-02-30', '2026-11-31', '0000-01-01', '2026-1-05', ' 2026-01-05', '2026-01-05T00:00', '20260105', '1999-12-31']) {
        const r = await page(`/ba/PJM?date=${encodeURIComponent(bad)}`);
        assert.equal(r.status, 400, bad);
        assert.match(r.type, /^text\/html/, bad);
        assert.match(r.body, /Query parameter 'date' must be a calendar date YYYY-MM-DD/, bad);
        assert.doesNotMatch(r.body, /Daily Pulse|-000001|internal error/, `${bad}: the page showed a day anyway`);
        // The picker without JavaScript refuses it too, instead of dropping it and showing the latest day.
        const pick = await page(`/ba?code=PJM&date=${encodeURIComponent(bad)}`);
        assert.equal(pick.status, 400, `/ba?date=${bad}`);
        assert.match(pick.body, /Query parameter 'date'/);
      }
    });

    it('any text in `date`: 400 unless it is a real calendar day, which is the day shown (property)', async () => {
      const day = fc.record({ y: fc.integer({ min: 0, max: 2200 }), m: fc.integer({ min: 0, max: 13 }), d: fc.integer({ min: 0, max: 32 }) })
        .map(({ y, m, d }) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`);
      await fc.assert(fc.asyncProperty(fc.oneof(day, fc.string({ minLength: 1, maxLength: 12 })), async (value) => {
        const r = await page(`/ba/PJM?date=${encodeURIComponent(value)}`);
        if (isRealDate(value)) {
          assert.equal(r.status, 200, value);
          assert.match(r.body, new RegExp(`to ${value}<`), `${value}: another day was shown`);
        } else {
          assert.equal(r.status, 400, JSON.stringify(value));
          assert.match(r.body, /Query parameter 'date'/);
        }
      }), { numRuns: 30 });
    });

    it('an empty date field is the latest day; the API keeps answering problem+json for the same input', async () => {
      assert.equal((await page('/ba/PJM?date=')).status, 200);
      for (const bad of ['garbage', '2026-02-30', '0000-01-01']) {
        const api = await app.inject(`/api/v1/bas/PJM/pulse?date=${bad}`);
        assert.equal(api.statusCode, 400, bad);
        assert.match(String(api.headers['content-type']), /^application\/problem\+json/);
        assert.equal(api.json<{ field?: string }>().field, 'date', bad);
      }
    });

    it('the home table and /compare name the parameter they cannot honour', async () => {
      for (const [url, field] of [['/?sort=garbage', 'sort'], ['/?sort=constructor', 'sort'], ['/?dir=up', 'dir'], ['/?show=everything', 'show']] as const) {
        const r = await page(url);
        assert.equal(r.status, 400, url);
        assert.match(r.body, new RegExp(`Query parameter '${field}' must be one of`), url);
      }
      assert.equal((await page('/?sort=intensity&dir=desc&show=all')).status, 200);
      const compare = await page('/compare?bas=PJM,NOPE1,%3Cx%3E');
      assert.equal(compare.status, 400);
      assert.match(compare.body, /Query parameter 'bas': not balancing authority codes: <X>, NOPE1|Query parameter 'bas': not balancing authority codes: NOPE1, <X>/);
      assert.match(compare.body, /href="\/ba\/PJM"/, 'the known BA is still compared');
      assert.equal((await page('/compare?bas=PJM')).status, 200);
    });

    it('serves /favicon.ico as an icon', async () => {
      const res = await app.inject('/favicon.ico');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^image\//);
      assert.deepEqual([...res.rawPayload.subarray(0, 4)], [0, 0, 1, 0], 'an ICO header');
    });

    it('files every API operation under a domain tag with a description, and links back to the site', async () => {
      const doc = (await app.inject('/api/v1/openapi.json')).json<{ info: { description: string }; tags: Array<{ name: string; description: string }>; paths: Record<string, Record<string, { tags?: string[] }>> }>();
      const names = new Set(API_TAGS.map((t) => t.name));
      const untagged: string[] = [];
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          if (!op.tags?.length || op.tags.includes('default') || !op.tags.every((t) => names.has(t))) untagged.push(`${method.toUpperCase()} ${path}: ${JSON.stringify(op.tags)}`);
        }
      }
      assert.deepEqual(untagged, []);
      assert.ok(Object.keys(doc.paths).length > 20);
      for (const t of doc.tags) assert.ok(t.description.length > 20, `tag ${t.name} has no description`);
      const used = new Set(Object.values(doc.paths).flatMap((ops) => Object.values(ops).flatMap((o) => o.tags ?? [])));
      for (const t of ['grid', 'intensity', 'clean window', 'daily', 'forecast', 'pipeline', 'data', 'locate']) assert.ok(used.has(t), `no operation tagged ${t}`);
      assert.match(doc.info.description, /\]\(\/\)/, 'the description links to the site');
    });

    it('the embed snippets name the host the visitor used, with each embed\'s own size', async () => {
      const res = await app.inject({ url: '/ba/PJM', headers: { host: 'grid.example.org:8443' } });
      assert.equal(res.statusCode, 200);
      const body = text(res.body);
      assert.doesNotMatch(body, /gridpulse\.example/);
      for (const k of EMBED_KINDS) {
        assert.ok(body.includes(`<iframe src="http://grid.example.org:8443/embed/ba/PJM/${k.kind}" title="GridPulse PJM: ${k.label}" width="${k.width}" height="${k.height}"`), k.kind);
      }
      assert.ok(body.includes('[![PJM carbon intensity](http://grid.example.org:8443/badge/PJM.svg)](http://grid.example.org:8443/ba/PJM)'));
    });
  });
}

describe('the configured public address wins over the Host header', needs({}), () => {
  it('names PUBLIC_URL in every snippet', async () => {
    const site = await startSite({ days: 0, publicUrl: 'https://grid.example.org/' });
    try {
      const body = text((await site.app.inject({ url: '/ba/CISO', headers: { host: 'internal:3000' } })).body);
      assert.ok(body.includes('<iframe src="https://grid.example.org/embed/ba/CISO/now"'));
      assert.doesNotMatch(body, /internal:3000|gridpulse\.example/);
    } finally { await site.close(); }
  });
});
