import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM } from './availability.ts';

/**
 * Debian's Chromium with the flags this machine needs (no sandbox as root, no GPU, no background
 * network traffic that the closed network would refuse). Playwright gives each launch a fresh
 * temporary profile (--user-data-dir), removed on close.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core on the page as it is and returns its serious and critical violations as
 * `name: rule (impact) at selectors` (empty: none); fails when axe checked too few rules to mean anything.
 */
export async function axeProblems(page: Page, name: string): Promise<string[]> {
  await page.addScriptTag({ content: AXE });
  const { violations, passes } = await page.evaluate(async () => {
    type Rule = { id: string; impact: string; nodes: Array<{ target: string[] }> };
    const axe = (window as unknown as { axe: { run(ctx: Document): Promise<{ violations: Rule[]; passes: Rule[] }> } }).axe;
    const r = await axe.run(document);
    return { passes: r.passes.length, violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })) };
  });
  assert.ok(passes > 10, `axe checked only ${passes} rules on ${name}`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${name}: ${v.id} (${v.impact}) at ${v.nodes.join(', ')}`);
}

/** Collects console errors and uncaught exceptions of a page. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

/** Console errors plus every React hydration complaint (in production they arrive as minified errors #418/#423/#425). */
export function collectHydrationProblems(page: Page): string[] {
  const errors = collectErrors(page);
  page.on('console', (m) => {
    if (m.type() !== 'error' && /hydrat|did not match|server rendered|#41[89]|#42[35]/i.test(m.text())) errors.push(`${m.type()}: ${m.text()}`);
  });
  return errors;
}

/** Painted pixels of a canvas: how many are not transparent, and how many distinct colours. */
export async function canvasInk(page: Page, selector: string): Promise<{ painted: number; colours: number }> {
  return page.$eval(selector, (canvas) => {
    const c = canvas as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    const colours = new Set<number>();
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3]! > 0) { painted++; colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!); }
    }
    return { painted, colours: colours.size };
  });
}
