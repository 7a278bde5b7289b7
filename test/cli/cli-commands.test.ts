/**
 * The `sage` command as a person runs it (bin/sage.mjs in a child process): exit codes,
 * the validation problems, and a whole local run on a tiny procedural dataset.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Summary } from '../../src/contracts/summary';
import { MINI_CLIP_FIXTURE } from '../../src/procedural/dataset';
import { writeTinyClip, writeTinyDataset } from './fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(repoRoot, 'bin', 'sage.mjs');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sage(args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, SAGE_DECODE_WORKERS: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

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
