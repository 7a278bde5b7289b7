/**
 * `--json` of prepare, repro, demo and report through the built CLI (bin/sage.mjs in a child
 * process): stdout is one JSON document and nothing else (a human line on it fails the parse),
 * and its figures agree with the files the command wrote.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrepareJson } from '../../src/cli/commands/prepare';
import type { DemoJson } from '../../src/cli/commands/demo';
import type { ReportJson } from '../../src/cli/commands/report';
import type { ReproJson, ReproListJson } from '../../src/cli/commands/repro';
import { StoredEstimateSchema } from '../../src/contracts/documents';
import { Summary } from '../../src/contracts/summary';
import { REPRO_TABLE_IDS, REPRO_TABLES } from '../../src/repro/tables';
import { runSage } from './fixtures';

const sage = runSage;



/** Runs the command, expects exit 0 and returns stdout parsed: it throws if anything but one JSON document is there. */
async function sageJson<T>(args: string[], cwd: string): Promise<{ document: T; stderr: string }> {
  const result = await sage(args, cwd);
  expect(result.code, result.stderr).toBe(0);
  return { document: JSON.parse(result.stdout) as T, stderr: result.stderr };
}

/** Labels of a JSONL split, counted per class. */
async function jsonlCounts(file: string, classes: number): Promise<number[]> {
  const counts = new Array<number>(classes).fill(0);
  const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line.trim() !== '');
  for (const line of lines) counts[(JSON.parse(line) as { label: number }).label]!++;
  return counts;
}

/** A shard index's samples per class (classCounts summed over its shards). */
async function shardCounts(indexFile: string, classes: number): Promise<number[]> {
  const index = JSON.parse(await readFile(indexFile, 'utf8')) as { shards: { count: number; classCounts: Record<string, number> }[] };
  const counts = new Array<number>(classes).fill(0);
  for (const shard of index.shards) for (const [label, n] of Object.entries(shard.classCounts)) counts[Number(label)]! += n;
  return counts;
}

async function png(value: number): Promise<Buffer> {
  return sharp({ create: { width: 6, height: 5, channels: 3, background: { r: value, g: 255 - value, b: 90 } } }).png().toBuffer();
}

const sum = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0);

describe('--json on prepare, repro, demo and report (child process)', () => {
  let root: string;
  /** Written by the procedural prepare test; repro reads it. */
  let procedural: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-cli-json-'));
    procedural = path.join(root, 'procedural');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('prepare procedural --json: the manifest written, its classes and per-split counts as in the JSONL files', async () => {
    const { document, stderr } = await sageJson<PrepareJson>(['prepare', 'procedural', '--out', procedural, '--classes', '3', '--imbalance', '4', '--max-per-class', '8', '--test-per-class', '2', '--json'], root);
    expect(document.manifestUri).toBe(path.join(procedural, 'manifest.json'));
    const manifest = JSON.parse(await readFile(document.manifestUri, 'utf8')) as { name: string; classes: string[] };
    expect(document.name).toBe(manifest.name);
    expect(document.classes).toBe(manifest.classes.length);
    expect(document.classes).toBe(3);
    expect(document.trainCounts).toEqual(await jsonlCounts(path.join(procedural, 'train.jsonl'), 3));
    expect(document.trainCounts).toEqual([8, 4, 2]);
    expect(document.trainImages).toBe(14);
    expect(document.testImages).toBe(sum(await jsonlCounts(path.join(procedural, 'test.jsonl'), 3)));
    expect(document.testImages).toBe(6);
    expect(document.skipped).toEqual([]);
    expect(document.weights.exists).toBe(true);
    // The stages still reach a person, on stderr.
    expect(stderr).toMatch(/^drawing train: 14\/14 images/m);
  });

  it('prepare folder --json: a bad image among the skipped with its reason; counts as in the shard indexes', async () => {
    const tree = path.join(root, 'tree');
    for (const [c, name] of ['left', 'right'].entries()) {
      await mkdir(path.join(tree, name), { recursive: true });
      for (let i = 0; i < 4; i++) await writeFile(path.join(tree, name, `${i}.png`), await png(c * 100 + i));
    }
    const bad = path.join(tree, 'right', 'broken.png');
    await writeFile(bad, 'not an image');
    const out = path.join(root, 'folder');
    const { document, stderr } = await sageJson<PrepareJson>(['prepare', 'folder', '--root', tree, '--test-per-class', '1', '--out', out, '--json'], root);
    expect(document.manifestUri).toBe(path.join(out, 'manifest.json'));
    expect(document.classes).toBe(2);
    expect(document.skipped).toHaveLength(1);
    expect(document.skipped[0]!.uri).toBe(bad);
    expect(document.skipped[0]!.reason).not.toBe('');
    expect(stderr).toContain(`warning: skipped ${bad}`);
    // 4 good images a class, 1 of each held out for testing.
    expect(document.trainCounts).toEqual(await shardCounts(path.join(out, 'train', 'index.json'), 2));
    expect(document.trainCounts).toEqual([3, 3]);
    expect(document.trainImages).toBe(6);
    expect(document.testImages).toBe(sum(await shardCounts(path.join(out, 'test', 'index.json'), 2)));
    expect(document.testImages).toBe(2);
    expect(document.weights).toEqual({ uri: path.join(out, 'weights', 'clip-vit-base-patch16'), exists: false });
  });

  it('prepare imagenet-lt --json (list files): counts as in the shard indexes', async () => {
    const images = path.join(root, 'lists', 'images');
    await mkdir(path.join(images, 'a'), { recursive: true });
    const train: string[] = [];
    const test: string[] = [];
    for (let i = 0; i < 5; i++) {
      const file = `a/${i}.png`;
      await writeFile(path.join(images, file), await png(i * 20));
      // Labels 0, 0, 0, 1 for training and 1 for testing.
      (i < 4 ? train : test).push(`${file} ${i < 3 ? 0 : 1}`);
    }
    const lists = path.join(root, 'lists');
    await writeFile(path.join(lists, 'train.txt'), `${train.join('\n')}\n`);
    await writeFile(path.join(lists, 'test.txt'), `${test.join('\n')}\n`);
    await writeFile(path.join(lists, 'classnames.txt'), 'first\nsecond\n');
    const out = path.join(root, 'imagenet');
    const { document } = await sageJson<PrepareJson>(
      ['prepare', 'imagenet-lt', '--image-root', images, '--train-list', path.join(lists, 'train.txt'), '--test-list', path.join(lists, 'test.txt'), '--class-names', path.join(lists, 'classnames.txt'), '--out', out, '--json'],
      root,
    );
    expect(document.manifestUri).toBe(path.join(out, 'manifest.json'));
    expect(document.classes).toBe(2);
    expect(document.trainCounts).toEqual(await shardCounts(path.join(out, 'train', 'index.json'), 2));
    expect(document.trainCounts).toEqual([3, 1]);
    expect(document.testImages).toBe(sum(await shardCounts(path.join(out, 'test', 'index.json'), 2)));
    expect(document.testImages).toBe(1);
    expect(document.skipped).toEqual([]);
  });

  it('repro --json: the manifest written, its table, dataset, rows and sweep as in the file; the stored estimate', async () => {
    const dataset = path.join(procedural, 'manifest.json');
    expect(existsSync(dataset)).toBe(true);
    const { document, stderr } = await sageJson<ReproJson>(['repro', '5', '--dataset', dataset, '--epochs', '2', '--json'], root);
    expect(document.manifest).toBe(path.join(procedural, `${document.name}.json`));
    const written = JSON.parse(await readFile(document.manifest, 'utf8')) as {
      name: string;
      training: Record<string, unknown>;
      sweep: Record<string, unknown>[];
      repro: { table: string; dataset: string; toy: boolean; rows: string[] };
    };
    expect(document.name).toBe(written.name);
    expect({ table: document.table, dataset: document.dataset, toy: document.toy }).toEqual({ table: written.repro.table, dataset: written.repro.dataset, toy: written.repro.toy });
    expect(document.table).toBe('5');
    expect(document.source).toBe('Table 5');
    // Three classes and the mini-CLIP: a toy, saying why.
    expect(document.toy).toBe(true);
    expect(document.toyReasons.length).toBeGreaterThan(0);
    expect(document.rows.map((r) => r.label)).toEqual(written.repro.rows);
    expect(document.rows.map((r) => r.overrides)).toEqual(written.sweep);
    expect(document.rows.map((r) => r.inPaper)).toEqual(REPRO_TABLES.find((t) => t.id === '5')!.rows.map((r) => r.inPaper));
    expect(document.changes).toEqual({ epochs: 2 });
    expect(written.training).toMatchObject({ epochs: 2 });
    expect(document.images).toEqual({ train: 14, test: 6 });
    // Every Table 5 row trains; the preset's TTE gives 5 crops a test image.
    expect(document.sweep).toEqual({ runs: written.sweep.length, trainedRuns: written.sweep.length, trainingImages: written.sweep.length * 2 * 14, testCrops: written.sweep.length * 6 * 5 });
    const estimate = StoredEstimateSchema.parse(document.estimate);
    expect(estimate.entries.map((e) => e.sweepIndex)).toEqual(written.sweep.map((_, i) => i));
    expect(document.budgetFrom).toMatch(/default/); // no cdk.json in the test's folder
    expect(stderr).not.toMatch(/^wrote /m);
  });

  it('repro --list --json: every table with its datasets and rows', async () => {
    const { document } = await sageJson<ReproListJson>(['repro', '--list', '--json'], root);
    expect(document.tables.map((t) => t.id)).toEqual([...REPRO_TABLE_IDS]);
    for (const table of document.tables) {
      const known = REPRO_TABLES.find((t) => t.id === table.id)!;
      expect(table.source).toBe(known.source);
      expect(table.datasets.map((d) => d.id)).toEqual([...known.datasets]);
      expect(table.rows).toEqual(known.rows.map((r) => ({ label: r.label, inPaper: r.inPaper, overrides: r.overrides, ...(r.note ? { note: r.note } : {}) })));
    }
  });

  it('demo --json: the run document with seconds, rows as in summary.json; report --json on that summary gives its accuracies', { timeout: 60_000 }, async () => {
    const out = path.join(root, 'demo');
    const { document: demo, stderr } = await sageJson<DemoJson>(['demo', '--out', out, '--classes', '4', '--epochs', '1', '--max-per-class', '20', '--workers', '0', '--json'], root);
    expect(stderr).toMatch(/^sage demo: 4 procedural classes/m);
    expect(demo.outcome).toBe('finished');
    if (demo.outcome !== 'finished') throw new Error('unreachable');
    expect(demo.seconds).toBeGreaterThan(0);
    expect(demo.summaryUri).toBe(path.join(out, 'buckets', 'results', 'summaries', 'demo', 'summary.json'));
    for (const file of Object.values(demo.report)) expect(existsSync(file), file).toBe(true);
    const summary = Summary.parse(JSON.parse(await readFile(demo.summaryUri, 'utf8')));
    expect(demo.rows).toEqual(summary.rows.filter((row) => row.runId === demo.runId));
    expect(demo.rows.map((r) => [r.method, r.status])).toEqual([
      ['zero-shot', 'SUCCEEDED'],
      ['lift', 'SUCCEEDED'],
      ['sage', 'SUCCEEDED'],
    ]);

    const reportDir = path.join(root, 'report');
    const { document: report } = await sageJson<ReportJson>(['report', demo.summaryUri, '--out', reportDir, '--json'], root);
    expect(report.report).toEqual({ html: path.join(reportDir, 'report.html'), markdown: path.join(reportDir, 'report.md'), csv: path.join(reportDir, 'results.csv') });
    for (const file of Object.values(report.report)) expect(existsSync(file), file).toBe(true);
    expect(report.rows.map((r) => [r.runId, r.sweepIndex, r.method, r.status])).toEqual(summary.rows.map((r) => [r.runId, r.sweepIndex, r.method, r.status]));
    expect(report.rows.map((r) => r.accuracy)).toEqual(summary.rows.map((r) => r.accuracy));
    expect(report.rows.map((r) => r.parameters)).toEqual(summary.rows.map((r) => r.parameters));
    for (const row of report.rows) expect(row.accuracy?.top5).toBeTypeOf('number');
    // The table's Params (M): adapters / 2^20 for Sage (the SG-Adapter), / 10^6 for LIFT.
    const sage = report.rows.find((r) => r.method === 'sage')!;
    expect(sage.paperParameters).toEqual({ millions: sage.parameters!.adapters / 2 ** 20, divisor: '2^20' });
    const lift = report.rows.find((r) => r.method === 'lift')!;
    expect(lift.paperParameters).toEqual({ millions: lift.parameters!.adapters / 1e6, divisor: '10^6' });
    // The same figures as the CSV written beside it (accuracyAll is its fifth column; the runs' settings are empty here).
    const csv = (await readFile(report.report.csv, 'utf8')).trim().split('\n');
    expect(csv[0]!.split(',')[4]).toBe('accuracyAll');
    expect(csv.slice(1).map((line) => Number(line.split(',')[4]))).toEqual(report.rows.map((r) => r.accuracy!.all));
  });
});
