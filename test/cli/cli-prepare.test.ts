/** `sage prepare`: the procedural dataset end to end, and the input errors that exit 2. In-process. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main';
import type { CliOutput } from '../../src/cli/output';
import type { PrepareJson } from '../../src/cli/commands/prepare';
import { stageProgress } from '../../src/cli/commands/prepare';
import { MINI_CLIP_FIXTURE } from '../../src/procedural/dataset';
import sharp from 'sharp';

async function png(value: number): Promise<Buffer> {
  return sharp({ create: { width: 6, height: 5, channels: 3, background: { r: value, g: 255 - value, b: 90 } } }).png().toBuffer();
}

/** Two classes of 4 good PNGs, an empty .jpg and a text file named .png. */
async function messyFolder(root: string): Promise<{ empty: string; text: string }> {
  for (const [c, name] of ['left', 'right'].entries()) {
    await mkdir(path.join(root, name), { recursive: true });
    for (let i = 0; i < 4; i++) await writeFile(path.join(root, name, `${i}.png`), await png(c * 100 + i));
  }
  const empty = path.join(root, 'left', 'zero.jpg');
  const text = path.join(root, 'right', 'readme.png');
  await writeFile(empty, '');
  await writeFile(text, 'not an image');
  return { empty, text };
}

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
    // Its stages on stderr like every prepare's: a split's last line always comes, with its count.
    const stages = io.stderr.filter((line) => line.startsWith('drawing '));
    expect(stages).toContainEqual(expect.stringMatching(/^drawing train: 14\/14 images \(100%\), \d+\.\d+ s$/));
    expect(stages).toContainEqual(expect.stringMatching(/^drawing test: 6\/6 images \(100%\), \d+\.\d+ s$/));
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

  it('folder skips bad images with a warning naming each full path, prints every stage, and exits 0', async () => {
    const tree = path.join(root, 'messy');
    const { empty, text } = await messyFolder(tree);
    const io = capture();
    const out = path.join(root, 'messy-out');
    expect(await runCli(['prepare', 'folder', '--root', tree, '--test-per-class', '1', '--out', out, '--weights', MINI_CLIP_FIXTURE], io), io.stderr.join('\n')).toBe(0);
    const stderr = io.stderr.join('\n');
    expect(stderr).toContain(`warning: skipped ${empty}: the file is empty (0 bytes)`);
    expect(stderr).toMatch(new RegExp(`warning: skipped ${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not an image`));
    expect(stderr).toContain('listing: 10 images found');
    expect(stderr).toMatch(/^checking: 10\/10 images \(100%\), /m);
    expect(stderr).toMatch(/^copying train: 6\/6 images \(100%\), /m);
    expect(stderr).toMatch(/^copying test: 2\/2 images \(100%\), /m);
    // The weights exist: no warning about them.
    expect(stderr).not.toContain('no CLIP folder');
    expect(io.stdout[0]).toBe('prepared 2 classes: 6 training images (largest class 3, smallest 3), 2 test images');
    expect(io.stdout[1]).toBe('skipped 2 image(s) that do not decode (listed above)');
  });

  it('folder --on-bad-image fail exits 2 listing the bad images; --json gives the skipped ones and the weights', async () => {
    const tree = path.join(root, 'messy2');
    const { empty, text } = await messyFolder(tree);
    const failing = capture();
    expect(await runCli(['prepare', 'folder', '--root', tree, '--test-per-class', '1', '--out', path.join(root, 'messy2-out'), '--on-bad-image', 'fail'], failing)).toBe(2);
    expect(failing.stderr.join('\n')).toMatch(/error: 2 of 10 images cannot be used/);
    for (const file of [empty, text]) expect(failing.stderr.join('\n')).toContain(file);

    const io = capture();
    const out = path.join(root, 'messy2-json');
    expect(await runCli(['prepare', 'folder', '--root', tree, '--test-per-class', '1', '--out', out, '--json'], io)).toBe(0);
    const document = JSON.parse(io.stdout.join('\n')) as PrepareJson;
    expect(document).toMatchObject({ manifestUri: path.join(out, 'manifest.json'), classes: 2, trainCounts: [3, 3], trainImages: 6, testImages: 2 });
    expect(document.skipped.map((s) => s.uri).sort()).toEqual([empty, text].sort());
    // No --weights: the default folder beside the manifest is not there, and both the JSON and a warning say so.
    expect(document.weights).toEqual({ uri: path.join(out, 'weights', 'clip-vit-base-patch16'), exists: false });
    expect(io.stderr.join('\n')).toContain(`warning: the default weights weights/clip-vit-base-patch16 (no --weights given): no CLIP folder at ${path.join(out, 'weights', 'clip-vit-base-patch16')}`);
  });

  it('warns at prepare time about a --weights location that does not exist', async () => {
    const io = capture();
    const out = path.join(root, 'procedural-weights');
    const missing = path.join(root, 'no-such-clip');
    expect(await runCli(['prepare', 'procedural', '--out', out, '--classes', '2', '--max-per-class', '4', '--imbalance', '2', '--test-per-class', '1', '--weights', missing], io)).toBe(0);
    expect(io.stderr.join('\n')).toContain(`warning: --weights ${missing}: no CLIP folder at ${missing} (no config.json)`);
  });

  it('a missing root, test root or archive is bad input (exit 2), naming the flag', async () => {
    for (const [args, message] of [
      [['prepare', 'folder', '--root', path.join(root, 'nowhere'), '--test-per-class', '1'], `--root: no folder at ${path.join(root, 'nowhere')}`],
      [['prepare', 'folder', '--root', root, '--test-root', path.join(root, 'nowhere')], `--test-root: no folder at ${path.join(root, 'nowhere')}`],
      [['prepare', 'cifar100-lt', '--archive', path.join(root, 'cifar.tar.gz')], `--archive: no file at ${path.join(root, 'cifar.tar.gz')}`],
      [['prepare', 'cifar100-lt', '--archive', root], `--archive: expected a file, got a folder at ${root}`],
      [['prepare', 'imagenet-lt', '--image-root', root, '--train-list', path.join(root, 't.txt'), '--test-list', path.join(root, 't.txt'), '--class-names', path.join(root, 'c.txt')], `--train-list: no file at ${path.join(root, 't.txt')}`],
    ] as const) {
      const io = capture();
      expect(await runCli([...args, '--out', path.join(root, 'never')], io), args.join(' ')).toBe(2);
      expect(io.stderr.join('\n')).toContain(`error: ${message}`);
    }
  });

  it('prints a stage line at most every 2 s, with the ETA from the rate so far once there is one, and always the last one', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = stageProgress({ out: () => {}, err: (line) => lines.push(line) }, () => now);
    progress('copying train', 10, 100); // the first line of a stage comes at once
    now = 1000;
    progress('copying train', 20, 100); // within 2 s: held back
    now = 4000;
    progress('copying train', 40, 100); // 40 in 4 s: 60 left at 10 a second
    now = 5000;
    progress('copying train', 100, 100);
    // No ETA on the first line: no time has passed, so there is no rate yet.
    expect(lines).toEqual(['copying train: 10/100 images (10%), 0.00 s', 'copying train: 40/100 images (40%), 4.00 s, ETA 6.00 s', 'copying train: 100/100 images (100%), 5.00 s']);
  });

  it('cifar100-lt exits 2 without --archive', async () => {
    const io = capture();
    expect(await runCli(['prepare', 'cifar100-lt', '--out', path.join(root, 'cifar')], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain("required option '--archive <file>' not specified");
  });
});
