/**
 * Settings given on the command line reach the report: `sage train --epochs 2` then
 * `sage report`, and `sage run --epochs 2` (the layer folded into the staged manifest), each
 * show them in results.csv and in the Settings cell of report.html as Chromium renders it.
 * In-process runs of a tiny CLIP; skips the browser part where Chromium is not installed.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRunJson } from '../../src/cli/local-run';
import { runCli } from '../../src/cli/main';
import type { CliOutput } from '../../src/cli/output';
import { overridesFromConfig } from '../../src/cli/report-input';
import { resolveSettings } from '../../src/contracts/settings';
import { writeTinyClip, writeTinyDataset } from './fixtures';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

function capture(): CliOutput & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => stdout.push(text), err: (text) => stderr.push(text) };
}

/** The `settings` column of results.csv, per row (RFC 4180 quoting). */
function csvSettings(csv: string): string[] {
  const [header, ...rows] = csv.trim().split('\n');
  const column = header!.split(',').indexOf('settings');
  return rows.map((row) => {
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    for (let i = 0; i < row.length; i++) {
      const c = row[i]!;
      if (quoted) {
        if (c === '"' && row[i + 1] === '"') {
          field += '"';
          i++;
        } else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') {
        fields.push(field);
        field = '';
      } else field += c;
    }
    fields.push(field);
    return fields[column]!;
  });
}

async function settingsCells(browser: BrowserContext, htmlPath: string): Promise<string[]> {
  const page = await browser.newPage();
  await page.goto(`file://${htmlPath}`);
  const cells = page.locator('#results-table tbody td.settings');
  const texts: string[] = [];
  for (let i = 0; i < (await cells.count()); i++) {
    expect(await cells.nth(i).isVisible()).toBe(true);
    texts.push(await cells.nth(i).innerText());
  }
  await page.close();
  return texts;
}

describe('settings from flags in the report', () => {
  let root: string;
  let weights: string;
  let browser: BrowserContext | undefined;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-settings-report-'));
    weights = await writeTinyClip(path.join(root, 'clip'));
    if (hasChromium) {
      browser = await chromium.launchPersistentContext(path.join(root, 'profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    }
  });
  afterAll(async () => {
    await browser?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('a metrics document shows the settings that differ from its method’s defaults', () => {
    const config = { ...resolveSettings({ method: 'lift', epochs: 2, seed: 0, components: { fit: true } }), engine: { x: 1 } };
    expect(overridesFromConfig(config)).toEqual({ method: 'lift', components: { fit: true }, epochs: 2 });
    expect(overridesFromConfig(resolveSettings({ method: 'sage' }))).toEqual({ method: 'sage' });
  });

  it('sage train --epochs 2, then sage report: results.csv and the rendered Settings cell say epochs=2', async () => {
    const manifest = await writeTinyDataset(path.join(root, 'train-data'), weights, { name: 'flags-train', training: { epochs: 1, batchSize: 8 } });
    const out = path.join(root, 'train-out');
    const train = capture();
    expect(await runCli(['train', manifest, '--out', out, '--epochs', '2', '--method', 'lift', '--workers', '0'], train), train.stderr.join('\n')).toBe(0);
    // The table sage train prints has them too.
    expect(train.stdout.join('\n')).toMatch(/^\| lift \| SUCCEEDED \|.*epochs=2, batchSize=8 \|$/m);
    const reportDir = path.join(root, 'train-report');
    const report = capture();
    expect(await runCli(['report', out, '--out', reportDir], report)).toBe(0);
    expect(csvSettings(await readFile(path.join(reportDir, 'results.csv'), 'utf8'))).toEqual(['epochs=2, batchSize=8']);
    if (browser) expect(await settingsCells(browser, path.join(reportDir, 'report.html'))).toEqual(['epochs=2, batchSize=8']);
  });

  it('sage run --epochs 2 on a sweep: every row of results.csv and report.html carries epochs=2', async () => {
    const manifest = await writeTinyDataset(path.join(root, 'run-data'), weights, { name: 'flags-run', sweep: [{ method: 'zero-shot' }, { method: 'lift', alpha: 0.2 }] });
    const io = capture();
    const code = await runCli(['run', manifest, '--buckets', path.join(root, 'buckets'), '--in-process', '--workers', '0', '--epochs', '2', '--json'], io);
    expect(code, io.stderr.join('\n')).toBe(0);
    // stdout is one JSON document and nothing else.
    const document = JSON.parse(io.stdout.join('\n')) as LocalRunJson;
    if (document.outcome !== 'finished') throw new Error(`expected a finished run, got ${document.outcome}`);
    expect(document.rows.map((r) => [r.method, r.status, r.overrides])).toEqual([
      ['zero-shot', 'SUCCEEDED', { method: 'zero-shot', epochs: 2 }],
      ['lift', 'SUCCEEDED', { method: 'lift', alpha: 0.2, epochs: 2 }],
    ]);
    expect(csvSettings(await readFile(document.report.csv, 'utf8'))).toEqual(['epochs=2', 'alpha=0.2, epochs=2']);
    // The staged copy says what ran; the user's own file is unchanged.
    const staged = JSON.parse(await readFile(path.join(root, 'buckets', 'data', 'manifests', 'flags-run.json'), 'utf8')) as { sweep: unknown[] };
    expect(staged.sweep).toEqual([{ method: 'zero-shot', epochs: 2 }, { method: 'lift', alpha: 0.2, epochs: 2 }]);
    expect((JSON.parse(await readFile(manifest, 'utf8')) as { sweep: unknown[] }).sweep).toEqual([{ method: 'zero-shot' }, { method: 'lift', alpha: 0.2 }]);
    if (browser) expect(await settingsCells(browser, document.report.html)).toEqual(['epochs=2', 'alpha=0.2, epochs=2']);
  });
});
