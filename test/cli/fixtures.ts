/**
 * Small datasets for the CLI and trainer tests: a tiny random CLIP (src/clip/testing) and a
 * procedural long-tailed dataset (src/procedural) with a sweep, written to a temp folder.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRandomClip } from '../../src/clip/testing';
import type { SettingsOverrides } from '../../src/contracts/settings';
import { generateProceduralDataset } from '../../src/procedural/dataset';

/** A CLIP small enough that a training step takes milliseconds: 32 px, 8 px patches, width 32, 2 blocks. */
export async function writeTinyClip(dir: string): Promise<string> {
  const clip = await createRandomClip(
    dir,
    {
      vision: { imageSize: 32, patchSize: 8, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2 },
      text: { hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2 },
      projectionDim: 16,
    },
    1,
  );
  return clip.dir;
}

export interface TinyDatasetOptions {
  name?: string;
  sweep?: SettingsOverrides[];
  training?: SettingsOverrides;
  /** Defaults: 4 classes, 8 → 2 training images, 3 test images each. */
  classes?: number;
  maxPerClass?: number;
}

/** Writes the dataset and its manifest under `root`; returns the manifest's path. */
export async function writeTinyDataset(root: string, weights: string, options: TinyDatasetOptions = {}): Promise<string> {
  const generated = await generateProceduralDataset({
    outDir: path.join(root, 'dataset'),
    classes: options.classes ?? 4,
    imbalanceRatio: 4,
    maxPerClass: options.maxPerClass ?? 8,
    testPerClass: 3,
    seed: 0,
    weights,
    name: options.name ?? 'tiny',
    training: options.training ?? { epochs: 1, batchSize: 8 },
  });
  if (options.sweep) {
    const manifest = JSON.parse(await readFile(generated.manifestUri, 'utf8')) as Record<string, unknown>;
    await writeFile(generated.manifestUri, JSON.stringify({ ...manifest, sweep: options.sweep }, null, 2));
  }
  return generated.manifestUri;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI's launcher, as a user runs it. */
export const SAGE_BIN = path.join(REPO_ROOT, 'bin', 'sage.mjs');

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <args>` in `cwd` and collects its output and exit code. */
export function runNode(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the built `sage` command in `cwd`, decoding images on the calling thread (fast and repeatable in tests). */
export function runSage(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<ProcessResult> {
  return runNode([SAGE_BIN, ...args], cwd, { ...env, SAGE_DECODE_WORKERS: '0' });
}
