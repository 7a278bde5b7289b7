/**
 * `sage repro` as a person runs it, in this process: the list, the refusals with exit 2, and
 * Table 10 on a tiny procedural dataset written, run through the local pipeline on the
 * mini-CLIP (one epoch), and reported with the paper's figures beside ours.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main';
import type { CliOutput } from '../../src/cli/output';
import { MetricsDocument } from '../../src/contracts/metrics';
import { Summary } from '../../src/contracts/summary';
import { Manifest } from '../../src/manifest/schema';
import { MINI_CLIP_FIXTURE } from '../../src/procedural/dataset';
import { writeTinyDataset } from '../cli/fixtures';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function sage(args: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const output: CliOutput = { out: (text) => void out.push(text), err: (text) => void err.push(text) };
  const code = await runCli(args, output);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('sage repro', () => {
  let root: string;
  let prepared: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-repro-'));
    prepared = await writeTinyDataset(path.join(root, 'tiny'), MINI_CLIP_FIXTURE, { name: 'tiny' });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('--list prints every table with its datasets and rows, and the methods that are not ours', async () => {
    const result = await sage(['repro', '--list']);
    expect(result.code).toBe(0);
    for (const id of ['1', '2', '3', '4', '5', '6', '7', '10', '11', 'alpha', 'gamma', 'mu', 'lambda1', 'lambda2', 'lambda3']) expect(result.stdout).toMatch(new RegExp(`^${id} +\\S`, 'm'));
    expect(result.stdout).toMatch(/^ +\+ SG-Adapter \(w\/o W_proj\) +method=lift, components\.sg=true, components\.init=true, components\.cf=true, sgProjection=false$/m);
    expect(result.stdout).toContain("not ours (in the paper's table, not run here): KPS, KPS + CF, ProCo, ProCo + CF");
  });

  it('refuses an unknown table, a missing dataset and a dataset the table has no rows for, with exit 2 and the valid values', async () => {
    const unknown = await sage(['repro', '8', '--dataset', prepared]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown table "8": expected one of 1, 2, 3, 4, 5, 6, 7, 10, 11, alpha, gamma, mu, lambda1, lambda2, lambda3');
    expect((await sage(['repro', '5'])).code).toBe(2);
    const wrong = await sage(['repro', '2', '--dataset', prepared, '--table-dataset', 'cifar100-lt-r100']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('Table 2 has rows for places-lt');
    expect(wrong.stderr).toMatch(/--table-dataset with one of: places-lt$/m);
    const clash = await sage(['repro', '5', '--dataset', prepared, '--set', 'method=sage']);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('got method');
  });

  it('writes Table 7 elsewhere with absolute references, a manifest sage validate accepts', async () => {
    const out = path.join(root, 'elsewhere', 'table7.json');
    await mkdir(path.dirname(out), { recursive: true });
    const result = await sage(['repro', '7', '--dataset', prepared, '--out', out, '--epochs', '1']);
    expect(result.code).toBe(0);
    const manifest = Manifest.parse(JSON.parse(await readFile(out, 'utf8')));
    expect(path.isAbsolute(manifest.weights)).toBe(true);
    expect(manifest.train).toEqual({ jsonl: path.join(path.dirname(prepared), 'train.jsonl') });
    expect(manifest.repro).toEqual({ table: '7', dataset: 'cifar100-lt-r100', toy: true, rows: ['CE', 'CE + CF', 'LA', 'LA + CF'] });
    expect((await sage(['validate', out])).code).toBe(0);
  });

  it('writes Table 10 for the procedural data as a toy, and sage run of it finishes with the paper beside us', async () => {
    const written = await sage(['repro', '10', '--dataset', prepared, '--epochs', '1']);
    expect(written.code).toBe(0);
    const file = path.join(path.dirname(prepared), 'repro-t10-cifar100-lt-r100-toy.json');
    expect(written.stdout).toContain(`wrote ${file}`);
    expect(written.stdout).toMatch(/toy: the dataset has 4 classes, CIFAR-100-LT β = 100 has 100; the CLIP weights are not ViT-B\/16/);
    // 3 trained runs × 1 epoch × 18 training images (8, 5, 3, 2: 4 classes at β = 4); 3 runs × 12 test images × 5 crops.
    expect(written.stdout).toContain('sweep: 3 runs (3 trained): 54 training images in all (epochs × 18), 180 test crops');
    // The estimate of the whole sweep, from the weights' config and the stack's budget (./cdk.json or the defaults).
    expect(written.stdout).toContain('GPU estimate:');
    expect(written.stdout).toMatch(/#2 [\w+-]+: [\d.]+ [GTP]FLOP; \d+ min on g4dn\.xlarge \(T4, micro-batch up to \d+\)/);
    expect(written.stdout).toContain('all 3 runs:');
    expect(written.stderr).toContain("the prepared manifest's training settings (epochs=1, batchSize=8) give way to the paper's set-up");

    const buckets = path.join(root, 'buckets');
    const run = await sage(['run', file, '--buckets', buckets, '--in-process', '--workers', '0']);
    expect(run.code, run.stderr).toBe(0);
    const summaryDir = path.join(buckets, 'results', 'summaries', 'repro-t10-cifar100-lt-r100-toy');
    const summary = Summary.parse(JSON.parse(await readFile(path.join(summaryDir, 'summary.json'), 'utf8')));
    expect(summary.rows.map((r) => [r.method, r.status])).toEqual([
      ['lift+init+cf', 'SUCCEEDED'],
      ['lift+sg+init+cf', 'SUCCEEDED'],
      ['lift+sg+init+cf', 'SUCCEEDED'],
    ]);
    const metrics = await Promise.all(summary.rows.map(async (r) => MetricsDocument.parse(JSON.parse(await readFile(path.join(buckets, 'results', r.metricsKey!), 'utf8')))));
    expect(metrics.map((m) => [m.config.sgProjection, m.config.epochs, m.config.tte, m.config.gamma])).toEqual([
      [true, 1, true, 0.05],
      [true, 1, true, 0.05],
      [false, 1, true, 0.05],
    ]);
    // W_proj and b_proj are d² + d per block (SPEC: (5r + d + 4)d + 3r + 2 with, d less without): d = 64, 2 blocks.
    const config = JSON.parse(await readFile(path.join(MINI_CLIP_FIXTURE, 'config.json'), 'utf8')) as { vision_config: { hidden_size: number; num_hidden_layers: number } };
    const d = config.vision_config.hidden_size;
    expect(metrics[1]!.parameters.adapters - metrics[2]!.parameters.adapters).toBe(config.vision_config.num_hidden_layers * (d * d + d));

    // The printed table and the report: the paper's rows and figures, the toy label, the changed epochs.
    const rows = run.stdout.split('\n').filter((line) => /^\| (Baseline|\+ SG-Adapter)/.test(line));
    expect(rows.map((line) => line.split(' | ')[0])).toEqual(['| Baseline', '| + SG-Adapter', '| + SG-Adapter (w/o W_proj)']);
    expect(rows.map((line) => line.split(' | ')[3])).toEqual(['81.9', '82.6', '82.6']);
    const report = await readFile(path.join(summaryDir, 'report.md'), 'utf8');
    expect(report).toContain("Reproduction of the paper's Table 10 (the SG-Adapter with and without W_proj on CIFAR-100-LT), CIFAR-100-LT β = 100 (toy).");
    expect(report).toMatch(/^toy: sage repro marked the sweep a toy/m);
    expect(report).toContain("Differs from the paper's set-up: epochs 1 (paper 10); backend ");
    const html = await readFile(path.join(summaryDir, 'report.html'), 'utf8');
    expect(html).toContain('<span class="toy-label">toy</span>');
  });
});
