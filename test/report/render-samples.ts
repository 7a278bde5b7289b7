/**
 * Renders the sample reports to HTML and full-page PNG screenshots in headless Chromium, for a
 * person to look at: `npx tsx test/report/render-samples.ts [out/report-samples]`.
 * Zero-shot + LIFT + Sage on 10 and 120 classes (the second without a confusion matrix), with
 * and without evaluations during training, the 8-class sample with a failed run, and a reproduction.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { renderReportHtml, renderReportMarkdown } from '../../src/report';
import { richSampleInput, sampleReportInput, sampleReproInput } from './sample-report';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? 'out/report-samples');
  await mkdir(out, { recursive: true });
  const samples: [string, Awaited<ReturnType<typeof richSampleInput>>][] = [
    ['classes-10', await richSampleInput({ classes: 10, evaluated: 'test' })],
    ['classes-120', await richSampleInput({ classes: 120, evaluated: 'val', testPerClass: 10 })],
    ['classes-100', await richSampleInput({ classes: 100, testPerClass: 10 })],
    ['eight-failed', sampleReportInput()],
    ['repro', sampleReproInput()],
  ];
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    for (const [name, input] of samples) {
      const html = await renderReportHtml(input);
      const file = path.join(out, `${name}.html`);
      await writeFile(file, html);
      await writeFile(path.join(out, `${name}.md`), renderReportMarkdown(input));
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(`file://${file}`);
      await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
      await page.close();
      console.log(`${name}: ${(html.length / 1024).toFixed(0)} KiB → ${path.join(out, `${name}.png`)}`);
    }
  } finally {
    await browser.close();
  }
}

await main();
