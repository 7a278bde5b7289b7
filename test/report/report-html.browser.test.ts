/**
 * Renders the HTML report in headless Chromium and checks that a person would see the
 * results table and the charts, each inside the page. Skips where Chromium is not installed
 * (.ci/run installs it). SAGE_REPORT_SCREENSHOT_DIR=<dir> saves a full-page PNG of each
 * rich sample (test/report/render-samples.ts renders all of them).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext } from 'playwright-core';
import { renderReportHtml } from '../../src/report';
import { richSampleInput, sampleReportInput, sampleReproInput } from './sample-report';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`skipping the browser rendering test: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

describe.skipIf(!hasChromium)('the HTML report in a browser', () => {
  let browser: BrowserContext;
  let userDataDir: string;
  let pagePath: string;

  beforeAll(async () => {
    userDataDir = await mkdtemp(path.join(os.tmpdir(), 'sage-chromium-'));
    pagePath = path.join(userDataDir, 'report.html');
    await writeFile(pagePath, await renderReportHtml(sampleReportInput()));
    // An empty profile directory: nothing from a user's Chromium leaks into the test.
    browser = await chromium.launchPersistentContext(path.join(userDataDir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await rm(userDataDir, { recursive: true, force: true });
  });

  it('shows the results table with one row per run and the charts with visible marks, making no network request', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) requests.push(request.url());
    });
    await page.goto(`file://${pagePath}`);

    const rows = page.locator('#results-table tbody tr');
    expect(await rows.count()).toBe(4);
    expect(await rows.nth(2).locator('td').nth(2).innerText()).toBe('71.3');

    for (const name of ['groups', 'per-class', 'curves']) {
      const chart = page.locator(`figure[data-chart="${name}"] svg`).first();
      const box = await chart.boundingBox();
      expect(box, `chart ${name} has a layout box`).not.toBeNull();
      expect(box!.width).toBeGreaterThan(200);
      expect(box!.height).toBeGreaterThan(150);
    }
    // 3 methods x 8 classes = 24 points in the per-class scatter; 3 x 4 bars in the group chart.
    expect(await page.locator('figure[data-chart="per-class"] .mark-symbol.role-mark path').count()).toBe(24);
    expect(await page.locator('figure[data-chart="groups"] .mark-rect.role-mark path').count()).toBe(12);
    expect(await page.locator('#per-class-table tbody tr').count()).toBe(8);
    expect(requests).toEqual([]);

    if (process.env.SAGE_REPORT_SCREENSHOT) await page.screenshot({ path: process.env.SAGE_REPORT_SCREENSHOT, fullPage: true });
    await page.close();
  });

  for (const [classes, evaluated] of [
    [10, 'test'],
    [120, 'val'],
  ] as const) {
    it(`draws every chart of zero-shot + LIFT + Sage on ${classes} classes inside the page, with labelled log ticks up to the largest class`, async () => {
      const input = await richSampleInput({ classes, evaluated, testPerClass: classes > 100 ? 10 : 20 });
      const file = path.join(userDataDir, `rich-${classes}.html`);
      await writeFile(file, await renderReportHtml(input));
      const page = await browser.newPage();
      await page.goto(`file://${file}`);
      const main = (await page.locator('main').boundingBox())!;
      const figures = page.locator('figure.chart svg');
      const count = await figures.count();
      expect(count).toBe(classes <= 100 ? 6 : 3);
      for (let i = 0; i < count; i++) {
        const box = (await figures.nth(i).boundingBox())!;
        expect(box.width).toBeGreaterThan(150);
        expect(box.x).toBeGreaterThanOrEqual(main.x);
        expect(box.x + box.width).toBeLessThanOrEqual(main.x + main.width);
      }
      for (const table of ['#results-table', '#run-facts', '#worst-classes', '#confused-pairs']) {
        const box = (await page.locator(table).boundingBox())!;
        expect(box.x + box.width, table).toBeLessThanOrEqual(main.x + main.width);
      }
      // The per-class chart takes the page's width, one point per class and method, ticks labelled up to the largest class (500).
      const perClass = page.locator('figure[data-chart="per-class"] svg');
      expect((await perClass.boundingBox())!.width).toBeGreaterThan(0.85 * (main.width - 56));
      expect(await page.locator('figure[data-chart="per-class"] .mark-symbol.role-mark path').count()).toBe(3 * classes);
      const ticks = await page.locator('figure[data-chart="per-class"] .role-axis-label text').allTextContents();
      for (const label of ['5', '10', '100', '500']) expect(ticks).toContain(label);
      expect(await page.locator('#results-table thead th').allInnerTexts()).toEqual(expect.arrayContaining(['Top-5', 'Params (M)', 'Trainable (M)']));
      expect(await page.locator('figure[data-chart="curves"] text').allTextContents()).toContain(`${evaluated} accuracy (%)`);
      if (classes <= 100) {
        // One rect per non-empty cell of each run's matrix.
        const matrices = page.locator('figure[data-chart="confusion"]');
        for (let i = 0; i < 3; i++) {
          const cells = input.metrics[i]!.confusion!.matrix!.flat().filter((v) => v > 0).length;
          expect(await matrices.nth(i).locator('.mark-rect.role-mark path').count()).toBe(cells);
        }
      }
      expect(await page.locator('#confused-pairs tbody tr').count()).toBe(classes <= 100 ? 10 : 20);
      if (process.env.SAGE_REPORT_SCREENSHOT_DIR) await page.screenshot({ path: path.join(process.env.SAGE_REPORT_SCREENSHOT_DIR, `report-${classes}.png`), fullPage: true });
      await page.close();
    });
  }

  it("shows a reproduction's paper and difference columns under their metric, inside the page's width", async () => {
    const reproPath = path.join(userDataDir, 'repro.html');
    await writeFile(reproPath, await renderReportHtml(sampleReproInput()));
    const page = await browser.newPage();
    await page.goto(`file://${reproPath}`);
    const sage = page.locator('#results-table tbody tr').nth(3);
    // Paper row, status, then ours / paper / Δ for All.
    expect(await sage.locator('td').nth(0).innerText()).toBe('SG + Init + CF + FIT (Sage)');
    expect(await Promise.all([2, 3, 4].map((i) => sage.locator('td').nth(i).innerText()))).toEqual(['83.9', '83.3', '+0.6']);
    expect(await page.locator('#results-table thead tr').count()).toBe(2);
    expect(await page.locator('#repro').innerText()).toContain("Differs from the paper's set-up: epochs 2 (paper 10).");
    const table = await page.locator('#results-table').boundingBox();
    const main = await page.locator('main').boundingBox();
    expect(table!.x + table!.width).toBeLessThanOrEqual(main!.x + main!.width);
    await page.close();
  });
});
