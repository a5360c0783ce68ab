import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { needs } from './support/availability.ts';
import { collectErrors, launchChromium } from './support/browser.ts';
import { startSite, type Site } from './support/site.ts';
import { sharedDataTest, sharedPath } from '../support/shared-data.ts';
import { insertPlants, plantFromCodes, readCodeCsv } from '../../src/egrid/egrid-test-support.ts';

/** The eGRID pages in Chromium, on the real eGRID2022 plants of the MROW subregion and two in RMPA. */
describe('eGRID pages in Chromium', { skip: needs({ chromium: true }).skip || sharedDataTest().skip }, () => {
  let site: Site;
  let browser: Browser;
  let plants: number;
  let gas: number;
  before(async () => {
    site = await startSite({ bas: ['MISO'], days: 1 });
    const rows = readCodeCsv(sharedPath('egrid', 'egrid2022_PLNT22_MROW_and_NE_subset.csv')).map(plantFromCodes);
    await insertPlants(site.db, 2022, rows);
    plants = rows.filter((p) => p.latitude !== null && p.longitude !== null).length;
    gas = rows.filter((p) => p.fuelCategory === 'GAS' && p.latitude !== null).length;
    browser = await launchChromium();
  });
  after(async () => { await browser?.close(); await site?.close(); });

  it('the explorer draws every plant on the US map, and the fuel filter redraws only that fuel', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectErrors(page);
    await page.goto(`${site.url}/egrid`, { waitUntil: 'networkidle' });
    const map = page.locator('svg[data-map="plants"]');
    assert.equal(await map.locator('g.states path').count(), 51, 'the 50 states and DC');
    const drawn = await map.locator('circle').count();
    assert.ok(drawn >= plants - 5 && drawn <= plants, `${drawn} points of ${plants} plants with coordinates`);
    const box = await map.locator('circle').first().boundingBox();
    assert.ok(box && box.width > 0, 'points are painted');
    await page.selectOption('select[name="fuel"]', 'GAS');
    await Promise.all([page.waitForURL(/fuel=GAS/), page.click('form.filters button[type="submit"]')]);
    await page.waitForFunction((n) => document.querySelector('svg[data-map="plants"]')?.getAttribute('data-points') === String(n), gas, { timeout: 15_000 });
    assert.equal(await page.locator('svg[data-map="plants"] circle').count(), gas);
    const fills = new Set(await page.locator('svg[data-map="plants"] circle').evaluateAll((cs) => cs.map((c) => c.getAttribute('fill'))));
    assert.deepEqual([...fills], ['#e69f00']);
    const rowsShown = await page.locator('table[data-table="plants"] tbody tr').count();
    assert.equal(rowsShown, Math.min(100, gas));
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('a BA report prints to PDF with its map and tables', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors = collectErrors(page);
    await page.goto(`${site.url}/egrid/reports/ba/MISO?year=2022`, { waitUntil: 'networkidle' });
    await page.emulateMedia({ media: 'print' });
    assert.ok(await page.locator('svg[data-map="plants"] circle').count() > 500, 'the report map has MISO\'s plants');
    assert.equal(await page.locator('table[data-table="rates"] tbody tr').count(), 3);
    assert.ok(await page.locator('table[data-table="emitters"] tbody tr').count() > 0);
    assert.equal(await page.locator('header.site').isVisible(), false, 'site navigation is not printed');
    const pdf = await page.pdf({ format: 'Letter', printBackground: true });
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
    assert.ok(pages >= 1 && pages <= 4, `${pages} PDF pages`);
    assert.ok(pdf.length > 30_000, `${pdf.length} bytes: map and tables drawn`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('the BA page lists the plants in the BA', async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/ba/MISO`, { waitUntil: 'networkidle' });
    assert.equal(await page.locator('table[data-table="ba-plants"] tbody tr').count(), 10);
    await page.close();
  });
});
