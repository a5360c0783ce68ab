import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { needs } from './support/availability.ts';
import { axeProblems, collectErrors, launchChromium } from './support/browser.ts';
import { startSite, type Site } from './support/site.ts';
import { signIn } from '../support/auth.ts';
import { createDevice, deviceInput } from '../../src/fleet/device-repository.ts';
import { applyAcks, applyStatus, applyTelemetryLatest } from '../../src/fleet/ledger.ts';
import { storeBatch } from '../../src/fleet/gateway/ingest-writer.ts';
import { notifyFleet } from '../../src/fleet/fleet-events.ts';
import { RecordingFleetBus } from '../../src/fleet/testing/recording-bus.ts';

const DEVICES = ['web-bat-1', 'web-bat-2', 'web-bat-3'];

/**
 * The fleet pages in Chromium, driven by fleet-core's own functions (provisioning, the ledger's status and ack
 * handling) the way the gateway drives them: an operator watches devices come online, sends a schedule to the
 * fleet from the page, sees the rollout's progress bar reach 100 % as the devices acknowledge, sees a device go
 * offline, and cancels a second rollout with one click. Every change arrives over the live stream, without a reload.
 */
describe('fleet pages in Chromium', needs({ chromium: true }), () => {
  let site: Site;
  let browser: Browser;
  const bus = new RecordingFleetBus();
  before(async () => {
    site = await startSite({ bas: ['CISO'], days: 0, fleet: { bus }, webhookPolicy: { allowPrivate: true } });
    browser = await launchChromium();
    for (const id of DEVICES) await site.db.transaction((tx) => createDevice(tx, deviceInput.parse({ id, name: `Test battery ${id.slice(-1)}`, baCode: 'CISO' })));
  });
  after(async () => { await browser?.close(); await site?.close(); });

  it('shows devices going online, a rollout progressing to 100 %, a device going offline, live; cancels a rollout in one click', async () => {
    const operator = await signIn(site.app, site.db, 'operator');
    const page = await (await browser.newContext()).newPage();
    const errors = collectErrors(page);
    await page.goto(`${site.url}/signin?next=/fleet`, { waitUntil: 'networkidle' });
    await page.getByLabel('E-mail').fill(operator.email);
    await page.getByLabel('Password').fill(operator.password);
    await Promise.all([page.waitForURL(`${site.url}/fleet`), page.getByRole('button', { name: 'Sign in' }).click()]);
    await page.getByRole('heading', { name: 'Fleet', exact: true }).waitFor();
    await page.waitForFunction(() => document.querySelector('[data-live="on"]'));
    // The server LISTENs from the stream's first subscriber on: probe until the page hears a change.
    for (let i = 0; i < 100 && !(await page.locator('[data-live="on"]').textContent())?.includes('received'); i++) {
      await site.db.transaction((tx) => notifyFleet(tx, 'ledger', 1));
      await page.waitForTimeout(100);
    }
    const online = page.locator('[data-online]');
    assert.equal(await online.textContent(), '0');
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });

    // devices come online (their status messages, as the gateway hands them to the ledger)
    await applyStatus(site.db, DEVICES.map((deviceId) => ({ schema: 'gridpulse.status/1' as const, deviceId, online: true, at: new Date().toISOString(), agentVersion: '1.0.0' })));
    await page.waitForFunction(() => document.querySelector('[data-online]')?.textContent === '3');
    // and report their state of charge (the schedule check starts from it), stored as the gateway stores a batch
    await storeBatch(site.db, {
      acks: [], statuses: [],
      telemetry: DEVICES.map((deviceId) => ({ schema: 'gridpulse.telemetry/1' as const, deviceId, at: new Date().toISOString(), seq: 1, socPct: 50, powerKw: 0, scheduleVersion: 0, mode: 'hold-soc' })),
    }, { applyAcks, applyStatus, applyTelemetryLatest });
    await page.locator('[data-card="soc"] .big').filter({ hasText: '50.0 %' }).waitFor();

    // a schedule to the whole fleet from the page's form (CSRF-protected, as the operator)
    const form = page.getByRole('form', { name: 'New schedule' });
    await form.getByLabel('Power (kW)').fill('2');
    await form.getByRole('button', { name: 'Send schedule' }).click();
    await page.getByText(/Rollout [0-9a-f]{8} started to 3 devices/).waitFor();
    const rollout = page.locator('table.rollouts tr[data-rollout]').first();
    const rolloutId = (await rollout.getAttribute('data-rollout'))!;
    const bar = rollout.locator('progress');
    assert.equal(await bar.getAttribute('value'), '0');
    assert.equal(bus.published.length, 3, 'every device\'s version published');

    // each device acknowledges its version: the bar moves to 100 % without a reload
    const seen: string[] = [];
    for (const [i, m] of bus.published.entries()) {
      await applyAcks(site.db, [{ schema: 'gridpulse.ack/1', deviceId: m.deviceId, version: m.version, state: 'acknowledged', at: new Date().toISOString(), seq: 1 }]);
      const want = String(Math.round(((i + 1) / 3) * 1000) / 10);
      await page.waitForFunction(([id, v]) => document.querySelector(`tr[data-rollout="${id}"] progress`)?.getAttribute('value') === v, [rolloutId, want] as const);
      seen.push(want);
    }
    assert.deepEqual(seen, ['33.3', '66.7', '100']);
    assert.match((await rollout.locator('.progress-cell').textContent()) ?? '', /100 %/);

    // one device's Last Will: it goes offline, and the offline alert names it
    await applyStatus(site.db, [{ schema: 'gridpulse.status/1', deviceId: 'web-bat-3', online: false }]);
    await page.waitForFunction(() => document.querySelector('[data-online]')?.textContent === '2');
    await page.locator('[data-offline-device="web-bat-3"]').waitFor();
    assert.equal(await page.getByRole('alert').filter({ hasText: '1 device is offline' }).count(), 1);
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page reloaded');

    // a second rollout, one device a minute: cancelled with one click before it reaches the rest
    await form.getByLabel('Devices per minute').fill('1');
    await form.getByLabel('Priority').fill('1');
    await form.getByRole('button', { name: 'Send schedule' }).click();
    await page.locator('table.rollouts tr[data-rollout]').nth(1).waitFor();
    const second = page.locator('table.rollouts tr[data-rollout]').first();
    assert.notEqual(await second.getAttribute('data-rollout'), rolloutId);
    assert.equal(await second.getAttribute('data-status'), 'running');
    await second.getByRole('button', { name: /^Cancel rollout/ }).click();
    await page.getByText('Rollout cancelled').waitFor();
    await page.waitForFunction(() => document.querySelector('table.rollouts tr[data-rollout]')?.getAttribute('data-status') === 'cancelled');
    assert.equal(bus.published.length, 4, 'the cancelled rollout reached its first device only');

    // the device list shows live status; the device page its timeline and delivery history
    // one count rule on both pages, said beside the count; the success rate is n/N of the finished versions
    assert.match((await page.locator('[data-card="devices"]').textContent()) ?? '', /3 in all \(provisioned, not revoked\)/);
    assert.equal(await page.locator('[data-card="commands"] .big').getAttribute('data-success'), '0/0', 'no version finished yet: no "100 %"');
    await page.goto(`${site.url}/fleet/devices`, { waitUntil: 'networkidle' });
    assert.match((await page.locator('table.devices caption').textContent()) ?? '', /^3 of 3 devices \(provisioned, not revoked\)/);
    assert.equal(await page.locator('tr[data-device="web-bat-3"]').getAttribute('data-status'), 'offline');
    assert.equal(await page.locator('tr[data-device="web-bat-1"]').getAttribute('data-status'), 'online');
    await page.waitForFunction(() => document.querySelector('[data-live="on"]'));
    for (let i = 0; i < 100 && !(await page.locator('[data-live="on"]').textContent())?.includes('received'); i++) {
      await site.db.transaction((tx) => notifyFleet(tx, 'ledger', 1));
      await page.waitForTimeout(100);
    }
    await applyStatus(site.db, [{ schema: 'gridpulse.status/1', deviceId: 'web-bat-3', online: true, at: new Date().toISOString() }]);
    await page.waitForFunction(() => document.querySelector('tr[data-device="web-bat-3"]')?.getAttribute('data-status') === 'online');

    await page.goto(`${site.url}/fleet/devices/web-bat-2`, { waitUntil: 'networkidle' }); // not reached by the cancelled rollout
    await page.locator('[data-timeline]').waitFor();
    assert.equal(await page.locator('tr[data-version="1"]').getAttribute('data-state'), 'acknowledged');
    assert.ok(await page.locator('[data-lane="1-planned"] rect').count() >= 1, 'the planned interval is drawn');
    assert.ok(await page.locator('[data-lane="reported"] rect').count() >= 1, 'what the device reported is drawn');
    assert.ok(await page.locator('[data-chart="device-soc"]').count() === 1);

    const found: string[] = [];
    for (const path of ['/fleet', '/fleet/devices', '/fleet/devices/web-bat-1', '/fleet/devices/web-bat-2']) {
      await page.goto(site.url + path, { waitUntil: 'networkidle' });
      found.push(...await axeProblems(page, path));
    }
    assert.deepEqual(found, []);

    // the offline-devices alert, offered to operators on their alerts page (the fleet page links there)
    await page.goto(`${site.url}/account/alerts`, { waitUntil: 'networkidle' });
    const alertForm = page.getByRole('form', { name: 'New alert' });
    await alertForm.getByLabel('When').selectOption('devices_offline');
    await alertForm.getByLabel('Name').fill('Batteries down');
    await alertForm.getByLabel('for more than (minutes)').fill('10');
    await alertForm.getByLabel('Webhook URL').fill('http://127.0.0.1:8089/gridpulse-hook');
    await alertForm.getByRole('button', { name: 'Create alert' }).click();
    await page.getByText('Alert “Batteries down” created.').waitFor();
    assert.match((await page.locator('tr[data-alert]').first().textContent()) ?? '', /whole fleet: batteries offline for more than \(minutes\) 10/);
    assert.deepEqual(errors, []);

    // an analyst is not offered it (and the API refuses it: src/fleet/overview/fleet-overview.test.ts)
    const analyst = await signIn(site.app, site.db, 'analyst');
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${site.url}/signin?next=/account/alerts`, { waitUntil: 'networkidle' });
    await other.getByLabel('E-mail').fill(analyst.email);
    await other.getByLabel('Password').fill(analyst.password);
    await Promise.all([other.waitForURL(`${site.url}/account/alerts`), other.getByRole('button', { name: 'Sign in' }).click()]);
    await other.getByRole('form', { name: 'New alert' }).waitFor();
    assert.equal(await other.locator('select[name="kind"] option[value="devices_offline"]').count(), 0);
    assert.equal(await other.locator('select[name="kind"] option').count(), 4);
  });
});
