/** `sage prepare`: the procedural dataset end to end, and the input errors that exit 2. In-process. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main';
import type { CliOutput } from '../../src/cli/output';

function capture(): CliOutput & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => stdout.push(text), err: (text) => stderr.push(text) };
}

describe('sage prepare', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-prepare-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('procedural writes a long-tailed dataset and a manifest, and says where', async () => {
    const io = capture();
    const out = path.join(root, 'procedural');
    const code = await runCli(['prepare', 'procedural', '--out', out, '--classes', '3', '--imbalance', '4', '--max-per-class', '8', '--test-per-class', '2', '--name', 'p3'], io);
    expect(code).toBe(0);
    // floor(8·4^(-i/2)) for i = 0, 1, 2: 8, 4, 2.
    expect(io.stdout[0]).toBe('prepared 3 classes: 14 training images (largest class 8, smallest 2), 6 test images');
    expect(io.stdout[1]).toBe(`manifest: ${path.join(out, 'manifest.json')}`);
    const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')) as { name: string; classes: string[]; description: string };
    expect(manifest.name).toBe('p3');
    expect(manifest.classes).toHaveLength(3);
    expect(manifest.description).toContain('tungsten domain'); // the CLI's default, like the demo's
  });

  it('procedural exits 2 for an unknown --domain, naming the choices', async () => {
    const io = capture();
    expect(await runCli(['prepare', 'procedural', '--out', path.join(root, 'bad-domain'), '--domain', 'sepia'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/--domain must be one of pretraining, tungsten, got 'sepia'/);
  });

  it('procedural exits 2 for more classes than the world has, saying the limit', async () => {
    const io = capture();
    expect(await runCli(['prepare', 'procedural', '--out', path.join(root, 'too-many'), '--classes', '99'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/classes must be at most 36/);
  });

  it('folder exits 2 without a test split source', async () => {
    const io = capture();
    expect(await runCli(['prepare', 'folder', '--root', root, '--out', path.join(root, 'folder')], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain('give --test-root or --test-per-class');
  });

  it('cifar100-lt exits 2 without --archive', async () => {
    const io = capture();
    expect(await runCli(['prepare', 'cifar100-lt', '--out', path.join(root, 'cifar')], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain("required option '--archive <file>' not specified");
  });
});
