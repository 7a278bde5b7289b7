/**
 * The `sage` command as a person runs it (bin/sage.mjs in a child process): exit codes,
 * the validation problems, `--json` documents (evaluate, run on a refused manifest),
 * `train --weights`, and a whole local run on a tiny procedural dataset.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterHeader } from '../../src/contracts/adapter';
import { MetricsDocument } from '../../src/contracts/metrics';
import { Summary } from '../../src/contracts/summary';
import type { LocalRunJson } from '../../src/cli/local-run';
import { MINI_CLIP_FIXTURE } from '../../src/procedural/dataset';
import { runSage, writeTinyClip, writeTinyDataset } from './fixtures';

const sage = runSage;



describe('sage (child process)', () => {
  let root: string;
  let weights: string;
  let manifest: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-cli-'));
    weights = await writeTinyClip(path.join(root, 'clip'));
    // The whole run uses the project's mini-CLIP, as the demo does; the failure case below a tiny random one.
    manifest = await writeTinyDataset(path.join(root, 'ok'), MINI_CLIP_FIXTURE, { sweep: [{ method: 'zero-shot' }, { method: 'lift' }, { method: 'sage' }] });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('validate exits 2 on a bad manifest and prints every problem with its place', async () => {
    const bad = path.join(root, 'bad.json');
    await writeFile(bad, JSON.stringify({ version: 1, name: 'bad name!', classes: ['cat'], train: { items: [] }, weights: 'w', trainig: {} }, null, 2));
    const result = await sage(['validate', bad], root);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`the manifest ${bad} is invalid`);
    expect(result.stderr).toMatch(/^name \(line 3.*\): /m);
    expect(result.stderr).toMatch(/^test: /m);
    expect(result.stderr).toMatch(/^trainig \(line 11, column 3\): /m);
  });

  it('validate exits 0 on a good manifest and summarises it', async () => {
    const result = await sage(['validate', manifest], root);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('classes  4');
    expect(result.stdout).toContain('runs     3 (zero-shot, lift, sage)');
  });

  it('evaluate --json prints the metrics document: the accuracy the training run measured, and its own counts agree', async () => {
    const dataset = await writeTinyDataset(path.join(root, 'evaluate'), weights, { name: 'evaluate' });
    const out = path.join(root, 'evaluate-out');
    const trained = await sage(['train', dataset, '--out', out, '--workers', '0', '--replicas', '1', '--json'], root);
    expect(trained.code, trained.stderr).toBe(0);
    const trainMetrics = MetricsDocument.parse(JSON.parse(await readFile(path.join(out, '0', 'metrics.json'), 'utf8')));

    const result = await sage(['evaluate', dataset, '--adapter', path.join(out, '0'), '--workers', '0', '--json'], root);
    expect(result.code, result.stderr).toBe(0);
    // stdout is the document and nothing else.
    const metrics = MetricsDocument.parse(JSON.parse(result.stdout));
    expect(metrics.dataset).toMatchObject({ name: 'evaluate', numClasses: 4, testCount: 12 });
    // The same weights on the same test split: what the run measured after its last epoch.
    expect(metrics.accuracy).toEqual(trainMetrics.accuracy);
    expect(metrics.perClass.map((c) => c.accuracy)).toEqual(trainMetrics.perClass.map((c) => c.accuracy));
    // Counted independently from the confusion matrix (rows: label, columns: prediction).
    const matrix = metrics.confusion!.matrix!;
    const correct = matrix.reduce((sum, row, label) => sum + row[label]!, 0);
    const total = matrix.flat().reduce((sum, n) => sum + n, 0);
    expect(total).toBe(12);
    expect(metrics.accuracy.all).toBeCloseTo(correct / total, 12);
    matrix.forEach((row, label) => expect(metrics.perClass[label]!.accuracy).toBeCloseTo(row[label]! / row.reduce((a, b) => a + b, 0), 12));
  });

  it('train --weights trains on the folder given, not the manifest\'s; a missing folder exits 2 naming it', async () => {
    // The manifest names weights that are not there: only --weights can make this run train.
    const missingInManifest = path.join(root, 'no-clip-here');
    const dataset = await writeTinyDataset(path.join(root, 'weights-flag'), missingInManifest, { name: 'weights-flag' });
    const nowhere = path.join(root, 'nowhere');
    const refused = await sage(['train', dataset, '--out', path.join(root, 'weights-refused'), '--weights', nowhere, '--workers', '0'], root);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(nowhere);

    const out = path.join(root, 'weights-out');
    const result = await sage(['train', dataset, '--out', out, '--weights', weights, '--workers', '0', '--replicas', '1', '--json'], root);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain(missingInManifest);
    const document = JSON.parse(result.stdout) as { metricsUri: string; metrics: unknown };
    expect(document.metricsUri).toBe(path.join(out, '0', 'metrics.json'));
    MetricsDocument.parse(document.metrics);
    // The adapter records the CLIP it was trained on: the folder --weights named.
    const header = AdapterHeader.parse(JSON.parse(await readFile(path.join(out, '0', 'adapter.json'), 'utf8')));
    expect(path.resolve(header.clip.source)).toBe(path.resolve(weights));
  });

  it('run --json on a manifest the local check refuses prints the rejected document on stdout and exits 2', async () => {
    const good = await writeTinyDataset(path.join(root, 'refused'), weights, { name: 'refused' });
    const bad = path.join(root, 'refused', 'dataset', 'bad.json');
    const manifestJson = JSON.parse(await readFile(good, 'utf8')) as Record<string, unknown>;
    await writeFile(bad, JSON.stringify({ ...manifestJson, training: { epochs: 0 } }, null, 2));
    const buckets = path.join(root, 'refused-buckets');
    const result = await sage(['run', bad, '--buckets', buckets, '--json'], root);
    expect(result.code, result.stderr).toBe(2);
    const document = JSON.parse(result.stdout) as LocalRunJson;
    expect(document.outcome).toBe('rejected');
    if (document.outcome !== 'rejected') throw new Error('unreachable');
    expect(document.rejectionUri).toBeUndefined(); // refused before anything was staged
    expect(document.problems).toContainEqual(expect.objectContaining({ path: 'training.epochs', message: expect.stringMatching(/>= ?1/) }));
    // The problems still go to stderr for a person, and nothing ran.
    expect(result.stderr).toMatch(/^training\.epochs \(line \d+/m);
  });

  it('run takes a manifest through the local pipeline: three rows, a report, exit 0; report and predict use its output', async () => {
    const buckets = path.join(root, 'buckets');
    const result = await sage(['run', manifest, '--buckets', buckets], root);
    expect(result.stderr).not.toMatch(/failed:/);
    expect(result.code).toBe(0);
    const table = result.stdout.split('\n').filter((line) => /^\| (zero-shot|lift|sage) \|/.test(line));
    expect(table).toHaveLength(3);
    for (const row of table) expect(row).toContain('| SUCCEEDED |');
    const summaryUri = path.join(buckets, 'results', 'summaries', 'tiny', 'summary.json');
    expect(result.stdout).toContain(`report:  ${path.join(buckets, 'results', 'summaries', 'tiny', 'report.html')}`);
    const summary = Summary.parse(JSON.parse(await readFile(summaryUri, 'utf8')));
    expect(summary.rows.map((r) => r.method)).toEqual(['zero-shot', 'lift', 'sage']);

    const report = await sage(['report', summaryUri, '--out', path.join(root, 'report')], root);
    expect(report.code).toBe(0);
    expect(await readFile(path.join(root, 'report', 'report.html'), 'utf8')).toContain('<table id="results-table">');

    const runId = summary.rows[2]!.runId;
    const image = path.join(root, 'ok', 'dataset', 'images', 'test', '00-red_circle', '0000.png');
    const predicted = await sage(['predict', image, '--adapter', path.join(buckets, 'results', 'runs', runId, '2'), '--top-k', '2', '--format', 'json'], root);
    expect(predicted.code).toBe(0);
    const predictions = JSON.parse(predicted.stdout) as { key: string; top: { name: string; score: number }[] }[];
    expect(predictions).toHaveLength(1);
    expect(predictions[0]!.key).toBe(image);
    expect(predictions[0]!.top).toHaveLength(2);
    expect(predictions[0]!.top[0]!.score).toBeGreaterThanOrEqual(predictions[0]!.top[1]!.score);
  });

  it('run exits 1 when a job fails, and the summary says why', async () => {
    const broken = await writeTinyDataset(path.join(root, 'broken'), weights, { name: 'broken', sweep: [{ method: 'lift' }] });
    // A file that exists (so validation passes) but is no image: training fails when it decodes it.
    await writeFile(path.join(root, 'broken', 'dataset', 'images', 'train', '00-red_circle', '0000.png'), 'not a png');
    const buckets = path.join(root, 'buckets');
    const result = await sage(['run', broken, '--buckets', buckets, '--workers', '0'], root);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^\| lift \| FAILED \|/m);
    expect(result.stderr).toContain('failed: 1 of 1 run(s) failed');
  });
});
