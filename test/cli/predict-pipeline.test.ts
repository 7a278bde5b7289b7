/**
 * Inference end to end on one machine (SPEC section 8): an inference manifest run by `sage run`
 * through the local pipeline (validation, an array job over slices, aggregation joining the
 * slices and rendering the report), and `sage predict` on the same adapter and images writing
 * the same lines. A corrupt image is skipped with a warning, or stops `--strict` with exit 2.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main';
import { createRandomClip } from '../../src/clip/testing';
import { jobSpecFromEnv } from '../../src/contracts/job';
import { PredictionRecord } from '../../src/contracts/predictions';
import { Summary } from '../../src/contracts/summary';
import { silentProgress } from '../../src/engine/progress';
import { runJob } from '../../src/trainer/run-job';
import { writeTinyClip, writeTinyDataset } from './fixtures';

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function sage(args: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (text) => out.push(text), err: (text) => err.push(text) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('inference through the local pipeline and sage predict', () => {
  let root: string;
  let weights: string;
  let adapter: string;
  let unlabelled: string;

  beforeAll(async () => {
    process.env.SAGE_DECODE_WORKERS = '0';
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-predict-'));
    weights = await writeTinyClip(path.join(root, 'clip'));
    const manifest = await writeTinyDataset(path.join(root, 'train'), weights, { name: 'tiny-train', training: { method: 'lift', epochs: 1, batchSize: 8 } });
    const out = path.join(root, 'trained');
    await runJob(jobSpecFromEnv({ SAGE_RUN_ID: 'r1', SAGE_MANIFEST_URI: manifest, SAGE_RESULTS_URI: out, SAGE_CHECKPOINT_URI: path.join(out, 'checkpoints') }), { progress: silentProgress, log: () => {}, workers: 0 });
    adapter = path.join(out, '0');
    // The test images, unlabelled, in two folders; and one file that is no image.
    unlabelled = path.join(root, 'unlabelled');
    await cp(path.join(root, 'train', 'dataset', 'images', 'test'), unlabelled, { recursive: true });
    await mkdir(path.join(unlabelled, 'zz'), { recursive: true });
    await writeFile(path.join(unlabelled, 'zz', 'broken.png'), 'not a png');
  }, 300_000);

  afterAll(async () => {
    delete process.env.SAGE_DECODE_WORKERS;
    await rm(root, { recursive: true, force: true });
  });

  it('runs an inference manifest in slices, joins the predictions and reports them; sage predict writes the same lines', async () => {
    const manifestUri = path.join(root, 'label.json');
    await writeFile(manifestUri, JSON.stringify({ version: 1, kind: 'predict', name: 'label-tiny', adapter, weights, images: { folder: unlabelled }, topK: 3, sliceSize: 5 }));
    const validated = await sage(['validate', manifestUri]);
    expect(validated.code).toBe(0);
    expect(validated.out).toContain('images   13 in 3 slice(s)');
    const buckets = path.join(root, 'buckets');
    const run = await sage(['run', manifestUri, '--buckets', buckets, '--in-process']);
    expect(run.err).not.toMatch(/failed:/);
    expect(run.code).toBe(0);
    // 12 test images and a broken file: 13 listed, 3 slices of at most 5; the broken one skipped.
    expect(run.out).toMatch(/12 images labelled in 3 slice\(s\), 1 skipped/);
    const summary = Summary.parse(JSON.parse(await readFile(path.join(buckets, 'results', 'summaries', 'label-tiny', 'summary.json'), 'utf8')));
    expect(summary.rows.map((row) => [row.sweepIndex, row.status, row.overrides.images])).toEqual([
      [0, 'SUCCEEDED', '0-5'],
      [1, 'SUCCEEDED', '5-10'],
      [2, 'SUCCEEDED', '10-13'],
    ]);
    const runDir = path.join(buckets, 'results', 'runs', summary.rows[0]!.runId);
    // The lines printed name the joined files where they are.
    expect(run.out).toContain(`predictions: ${path.join(runDir, 'predictions.jsonl')}`);
    expect(run.out).toContain(`             ${path.join(runDir, 'predictions.csv')}`);
    const joined = (await readFile(path.join(runDir, 'predictions.jsonl'), 'utf8')).trim().split('\n');
    expect(joined).toHaveLength(12);
    for (const line of joined) expect(PredictionRecord.parse(JSON.parse(line)).top).toHaveLength(3);
    const csv = (await readFile(path.join(runDir, 'predictions.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('key,class_1,score_1,class_2,score_2,class_3,score_3');
    expect(csv).toHaveLength(13);
    const report = await readFile(path.join(buckets, 'results', 'summaries', 'label-tiny', 'report.html'), 'utf8');
    expect(report).toContain('Inference report: label-tiny');
    expect(report).toContain('zz/broken.png');
    expect(report).toContain('data-chart="predicted-shares"');
    // report.md's top-1 score table, merged over the 3 slices, against a count of the joined predictions.
    const markdown = await readFile(path.join(buckets, 'results', 'summaries', 'label-tiny', 'report.md'), 'utf8');
    const table = markdown.split('## Top-1 score')[1]?.split('\n## ')[0] ?? '';
    const rows = [...table.matchAll(/^\| \[(\d\.\d\d), (\d\.\d\d)[)\]] \| (\d+) \|$/gm)].map((m) => ({ from: Number(m[1]), to: Number(m[2]), count: Number(m[3]) }));
    expect(rows).toHaveLength(20);
    expect(rows.map((row) => row.from)).toEqual(Array.from({ length: 20 }, (_, i) => Number((i / 20).toFixed(2))));
    const expected = new Array<number>(20).fill(0);
    for (const line of joined) {
      const score = PredictionRecord.parse(JSON.parse(line)).top[0]!.score;
      expected[rows.findIndex((row, i) => score >= row.from && (score < row.to || (i === 19 && score <= row.to)))]! += 1;
    }
    expect(rows.map((row) => row.count)).toEqual(expected);
    expect(expected.reduce((a, b) => a + b, 0)).toBe(12);

    // The same adapter and images through the CLI: the same lines, in the same order.
    const cliOut = path.join(root, 'cli.jsonl');
    const predicted = await sage(['predict', unlabelled, '--adapter', adapter, '--top-k', '3', '--out', cliOut]);
    expect(predicted.code).toBe(0);
    expect(predicted.err).toMatch(/warning: skipped zz\/broken\.png/);
    expect((await readFile(cliOut, 'utf8')).trim().split('\n')).toEqual(joined);
    // And from the manifest itself.
    const fromManifest = await sage(['predict', manifestUri]);
    expect(fromManifest.out.split('\n')).toEqual(joined);
  });

  it('refuses weights of another patch size than the adapter was trained on (exit 2), naming both sides, from flags and from a manifest', async () => {
    // The trained CLIP with 4 px patches instead of 8: width, blocks, image size and projection all equal.
    const coarser = await createRandomClip(
      path.join(root, 'clip-patch4'),
      { vision: { imageSize: 32, patchSize: 4, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2 }, text: { hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2 }, projectionDim: 16 },
      1,
    );
    const bothSides = /trained on a CLIP with patchSize 8 \(.+\); the CLIP given \(.+clip-patch4\) has patchSize 4/;
    const refused = await sage(['predict', unlabelled, '--adapter', adapter, '--weights', coarser.dir]);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(bothSides);
    expect(refused.out).toBe('');
    const manifestUri = path.join(root, 'label-patch4.json');
    await writeFile(manifestUri, JSON.stringify({ version: 1, kind: 'predict', name: 'label-patch4', adapter, weights: coarser.dir, images: { folder: unlabelled } }));
    const fromManifest = await sage(['predict', manifestUri]);
    expect(fromManifest.code).toBe(2);
    expect(fromManifest.err).toMatch(bothSides);
    const validated = await sage(['validate', manifestUri]);
    expect(validated.code).toBe(2);
    expect(`${validated.out}\n${validated.err}`).toMatch(/trained on a CLIP with patchSize 8 \(.+\); the weights given have patchSize 4/);
  });

  it('stops at an unreadable image with --strict (exit 2), and takes globs and list files', async () => {
    const strict = await sage(['predict', unlabelled, '--adapter', adapter, '--strict']);
    expect(strict.code).toBe(2);
    expect(strict.err).toMatch(/broken\.png/);
    const globbed = await sage(['predict', `${unlabelled}/0*/**/*.png`, '--adapter', adapter, '--format', 'csv', '--top-k', '1']);
    expect(globbed.code).toBe(0);
    const rows = globbed.out.split('\n');
    expect(rows[0]).toBe('key,class_1,score_1');
    expect(rows.length - 1).toBe(12);
    await writeFile(path.join(unlabelled, 'two.txt'), 'zz/broken.png\n00-red_circle/0000.png\n');
    const listed = await sage(['predict', path.join(unlabelled, 'two.txt'), '--adapter', adapter, '--format', 'json']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.out) as { key: string }[]).map((entry) => entry.key)).toEqual(['00-red_circle/0000.png']);
  });
});
