import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { needs } from './support/availability.ts';
import { collectErrors, launchChromium } from './support/browser.ts';
import { startSite, type Site } from './support/site.ts';
import { signIn } from '../support/auth.ts';
import { startAlertWorker } from '../../src/alerts/alert-worker.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from '../../src/alerts/webhook-signature.ts';

/**
 * Saved views and alerts in Chromium, the way a visitor uses them: signed in on the sign-in page (session
 * cookie; the pages' API calls carry X-CSRF-Token), and out again with "sign out everywhere".
 */
describe('saved views and alerts in Chromium', needs({ chromium: true }), () => {
  let site: Site;
  let browser: Browser;
  let receiver: http.Server;
  let receiverUrl = '';
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  before(async () => {
    site = await startSite({ bas: ['CISO', 'ERCO', 'BPAT'], days: 2, webhookPolicy: { allowPrivate: true } });
    browser = await launchChromium();
    receiver = http.createServer((req, res) => { let b = ''; req.on('data', (c: Buffer) => { b += c; }); req.on('end', () => { received.push({ headers: req.headers, body: b }); res.writeHead(200).end(); }); });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/gridpulse-hook`;
  });
  after(async () => { await browser?.close(); await site?.close(); await new Promise<void>((r) => receiver.close(() => r())); });

  it('signs in, saves a view, reopens it after a reload, creates an alert, sees its signed delivery arrive, signs out everywhere', async () => {
    const user = await signIn(site.app, site.db, 'analyst');
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const errors = collectErrors(page);
    await page.goto(`${site.url}/signin`, { waitUntil: 'networkidle' });
    await page.getByLabel('E-mail').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await Promise.all([page.waitForURL(`${site.url}/account`), page.getByRole('button', { name: 'Sign in' }).click()]);

    await page.goto(`${site.url}/compare?bas=CISO,ERCO`, { waitUntil: 'networkidle' });
    const save = page.getByRole('form', { name: 'Save this view' });
    await save.getByLabel('Name').fill('West and Texas');
    await save.getByLabel('Range').selectOption('absolute');
    await save.getByRole('button', { name: 'Save this view' }).click();
    await page.getByText('Saved: see your views.').waitFor();

    await page.goto(`${site.url}/account/views`, { waitUntil: 'networkidle' });
    await page.reload({ waitUntil: 'networkidle' });
    const link = page.getByRole('link', { name: 'West and Texas' });
    const href = await link.getAttribute('href');
    assert.match(href!, /^\/compare\?bas=CISO%2CERCO&from=.+&to=.+/);
    await link.click();
    await page.waitForURL(/\/compare\?bas=CISO%2CERCO&from=/);
    await page.getByRole('heading', { name: 'Compare balancing authorities' }).waitFor();
    assert.ok(await page.getByText('Carbon intensity consumed, hour by hour').count() > 0, 'the saved range is shown, not the default 48 hours');

    // an alert that holds now: consumption intensity below 2000 g/kWh
    await page.goto(`${site.url}/account/alerts`, { waitUntil: 'networkidle' });
    const form = page.getByRole('form', { name: 'New alert' });
    await form.getByLabel('Name').fill('CISO below 2000');
    await form.getByLabel('BA').fill('CISO');
    await form.getByLabel('g/kWh').fill('2000');
    await form.getByLabel('Webhook URL').fill(receiverUrl);
    await form.getByRole('button', { name: 'Create alert' }).click();
    const secret = (await page.locator('[data-secret]').textContent())!;
    assert.match(secret, /^whsec_/);

    // the worker's alert loop: evaluates at start, delivers what fired
    const worker = await startAlertWorker(site.db, pino({ level: 'silent' }), { policy: { allowPrivate: true } });
    try {
      for (let i = 0; i < 200 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      await worker.idle();
    } finally {
      await worker.stop();
    }
    assert.equal(received.length, 1, 'one signed delivery arrived');
    const got = received[0]!;
    assert.ok(verifyWebhook(secret, { signature: got.headers[SIGNATURE_HEADER] as string, timestamp: got.headers[TIMESTAMP_HEADER] as string }, got.body));
    assert.equal(JSON.parse(got.body).alert.name, 'CISO below 2000');

    await page.reload({ waitUntil: 'networkidle' });
    await page.getByRole('button', { name: 'Delivery log' }).click();
    const row = page.getByRole('table', { name: 'Delivery log' }).locator('tbody tr');
    await row.first().waitFor();
    assert.equal(await row.first().getAttribute('data-delivery'), 'delivered');
    assert.match((await row.first().textContent())!, /200/);
    assert.deepEqual(errors, []);

    // sign out everywhere: the browser's session and the account's API tokens end at once
    await page.goto(`${site.url}/account`, { waitUntil: 'networkidle' });
    await Promise.all([page.waitForURL(/\/signin/), page.getByRole('button', { name: 'Sign out everywhere' }).click()]);
    assert.equal((await site.app.inject({ url: '/api/v1/me/views', headers: user.headers })).statusCode, 401);
    assert.equal((await page.request.get(`${site.url}/api/v1/me/views`)).status(), 401);
    await ctx.close();
  });
});
