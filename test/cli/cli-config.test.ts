/**
 * `--config FILE`, `--print-config`, `--seed 0` and the settings layer: the file is checked by
 * the manifest's settings schema with lines, flags override it, and the merged layer resolves
 * to what the layers resolve to one after the other. In-process, no training.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliConfigError, parseConfigText } from '../../src/cli/config-file';
import { runCli } from '../../src/cli/main';
import type { CliOutput } from '../../src/cli/output';
import type { PrintedConfig } from '../../src/cli/settings-layer';
import { METHODS, PRESETS, resolveSettings, type SettingsOverrides } from '../../src/contracts/settings';
import { mergeSettingsLayers, withSettingsLayer } from '../../src/local/stage-manifest';
import { createRng, type Rng } from '../../src/common/random';
import { writeTinyClip, writeTinyDataset } from './fixtures';

function capture(): CliOutput & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => stdout.push(text), err: (text) => stderr.push(text) };
}

function configError(text: string, uri: string): CliConfigError {
  try {
    parseConfigText(text, uri);
  } catch (error) {
    if (error instanceof CliConfigError) return error;
    throw error;
  }
  throw new Error(`expected ${uri} to be refused`);
}

describe('config files', () => {
  it('reads YAML and JSON into the same settings layer', () => {
    const yaml = parseConfigText('# a comment\nmethod: lift\nepochs: 3\ncomponents:\n  fit: true\nmicroBatchSize: null\nloss: ce\n', 'c.yaml');
    const json = parseConfigText('{ "method": "lift", "epochs": 3, "components": { "fit": true }, "microBatchSize": null, "loss": "ce" }', 'c.json');
    expect(yaml).toEqual({ method: 'lift', epochs: 3, components: { fit: true }, microBatchSize: null, loss: 'ce' });
    expect(json).toEqual(yaml);
    // An empty file is an empty layer; YAML 1.2 keeps `no` a string, so a wrong type is named, not coerced.
    expect(parseConfigText('', 'empty.yaml')).toEqual({});
    expect(configError('tte: no\n', 'c.yml').problems).toEqual([expect.objectContaining({ path: 'tte', line: 1, column: 1 })]);
  });

  it('names every problem of a YAML file with its line and column', () => {
    const error = configError('epochs: 0\nalfa: 1\ncomponents:\n  fitt: true\n', 'bad.yaml');
    const byPath = new Map(error.problems.map((p) => [p.path, p]));
    expect(byPath.get('epochs')).toMatchObject({ line: 1, column: 1 });
    expect(byPath.get('epochs')!.message).toMatch(/>= ?1, got 0/);
    expect(byPath.get('alfa')).toMatchObject({ line: 2, column: 1 });
    expect(byPath.get('alfa')!.message).toContain('unknown field "alfa"');
    expect(byPath.get('components.fitt')).toMatchObject({ line: 4, column: 3 });
    expect(error.message).toMatch(/^the config file bad\.yaml is invalid \(3 problems\):$/m);
    expect(error.message).toMatch(/^components\.fitt \(line 4, column 3\): unknown field "fitt"/m);
  });

  it('names JSON and YAML syntax errors and duplicate keys with their place', () => {
    expect(configError('{\n  "epochs": 2,\n}\n', 'c.json').problems[0]).toMatchObject({ path: '', line: 3, column: 1, code: 'syntax' });
    expect(configError('{\n  "epochs": 2,\n  "alpha": 5\n}\n', 'c.json').problems[0]).toMatchObject({ path: 'alpha', line: 3, column: 3 });
    expect(configError('epochs: 2\nepochs: 3\n', 'c.yaml').problems[0]).toMatchObject({ line: 2, code: 'syntax' });
    expect(configError('epochs: [\n', 'c.yaml').problems[0]!.message).toMatch(/^invalid YAML: /);
    // A file that is not a mapping says what it is.
    expect(configError('[1, 2]', 'c.yaml').problems[0]!.message).toMatch(/expected an object, got an array/);
  });
});

describe('settings layers', () => {
  // Layers drawn at random over the fields whose interplay matters: method, components, preset, plain fields.
  function randomLayer(random: Rng): SettingsOverrides {
    const rng = (): number => random.next();
    const layer: SettingsOverrides = {};
    if (rng() < 0.5) layer.method = METHODS[Math.floor(rng() * METHODS.length)]!;
    if (rng() < 0.5) layer.components = Object.fromEntries((['sg', 'init', 'cf', 'fit'] as const).filter(() => rng() < 0.5).map((k) => [k, rng() < 0.5]));
    if (rng() < 0.3) layer.preset = PRESETS[Math.floor(rng() * PRESETS.length)]!;
    if (rng() < 0.5) layer.epochs = 1 + Math.floor(rng() * 9);
    if (rng() < 0.5) layer.alpha = Math.round(rng() * 100) / 100;
    return layer;
  }

  it('merges two layers into one that resolves as the two do in order (500 random pairs)', () => {
    const random = createRng(7);
    for (let i = 0; i < 500; i++) {
      const base = randomLayer(random);
      const lower = randomLayer(random);
      const upper = randomLayer(random);
      const merged = mergeSettingsLayers(lower, upper) as SettingsOverrides;
      expect(resolveSettings(base, merged), JSON.stringify({ base, lower, upper })).toEqual(resolveSettings(base, lower, upper));
    }
  });

  it('folds a layer into every sweep entry, or into training without a sweep', () => {
    const swept = withSettingsLayer({ training: { epochs: 5 }, sweep: [{ method: 'lift' }, { method: 'sage', alpha: 0.2 }] }, { epochs: 2, alpha: 0.3 });
    expect(swept).toEqual({ training: { epochs: 5 }, sweep: [{ method: 'lift', epochs: 2, alpha: 0.3 }, { method: 'sage', epochs: 2, alpha: 0.3 }] });
    expect(withSettingsLayer({ name: 'x', training: { batchSize: 8 } }, { epochs: 2 })).toEqual({ name: 'x', training: { batchSize: 8, epochs: 2 } });
    expect(withSettingsLayer({ name: 'x' }, undefined)).toEqual({ name: 'x' });
  });
});

describe('--config, --print-config and --seed on the commands', () => {
  let root: string;
  let manifest: string;
  let sweepManifest: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-config-'));
    const weights = await writeTinyClip(path.join(root, 'clip'));
    manifest = await writeTinyDataset(path.join(root, 'one'), weights, { name: 'one', training: { epochs: 1, batchSize: 8 } });
    sweepManifest = await writeTinyDataset(path.join(root, 'sweep'), weights, { name: 'sweep', sweep: [{ method: 'lift' }, { method: 'sage', microBatchSize: 4 }] });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function printed(args: string[]): Promise<PrintedConfig> {
    const io = capture();
    const code = await runCli([...args, '--print-config'], io);
    expect(code, io.stderr.join('\n')).toBe(0);
    return JSON.parse(io.stdout.join('\n')) as PrintedConfig;
  }

  it('train accepts --seed 0, the default seed', async () => {
    const config = await printed(['train', manifest, '--seed', '0']);
    expect(config.layer).toEqual({ seed: 0 });
    expect(config.runs).toHaveLength(1);
    expect(config.runs[0]!.settings.seed).toBe(0);
    const io = capture();
    expect(await runCli(['train', manifest, '--seed', '-1', '--print-config'], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain('expected a non-negative integer, got "-1"');
  });

  it('train layers the file under the flags, over the manifest', async () => {
    const file = path.join(root, 'settings.yaml');
    await writeFile(file, 'epochs: 3\nalpha: 0.3\ncomponents:\n  fit: false\n');
    const config = await printed(['train', manifest, '--config', file, '--epochs', '4', '--set', 'gamma=0.07']);
    expect(config.layer).toEqual({ epochs: 4, alpha: 0.3, gamma: 0.07, components: { fit: false } });
    const settings = config.runs[0]!.settings;
    expect(settings).toMatchObject({ epochs: 4, alpha: 0.3, gamma: 0.07, batchSize: 8, method: 'sage' });
    expect(settings.components).toEqual({ sg: true, init: true, cf: true, fit: false });
    expect(config.runs[0]!.method).toBe('lift+sg+init+cf');
  });

  it('run prints every sweep entry with the layer over it, and a resolved run is a valid config file itself', async () => {
    const config = await printed(['run', sweepManifest, '--epochs', '2']);
    expect(config.runs.map((r) => [r.sweepIndex, r.method, r.settings.epochs])).toEqual([
      [0, 'lift', 2],
      [1, 'sage', 2],
    ]);
    const again = path.join(root, 'resolved.json');
    await writeFile(again, JSON.stringify(config.runs[1]!.settings));
    const round = await printed(['train', manifest, '--config', again]);
    expect(round.runs[0]!.settings).toEqual(config.runs[1]!.settings);
  });

  it('submit prints the layer over the manifest without reaching AWS', async () => {
    const config = await printed(['submit', sweepManifest, '--method', 'lift', '--data-bucket', 'none', '--results-bucket', 'none']);
    expect(config.runs.map((r) => r.method)).toEqual(['lift', 'lift']);
  });

  it('exits 2 when the flags make a sweep entry invalid, naming the entry', async () => {
    const io = capture();
    expect(await runCli(['run', sweepManifest, '--batch-size', '2', '--print-config'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/make sweep entry 1 invalid: microBatchSize: microBatchSize must not exceed batchSize/);
  });

  it('exits 2 for an invalid config file with every problem and its line', async () => {
    const file = path.join(root, 'bad.yaml');
    await writeFile(file, 'epochs: zero\nbatchSise: 8\n');
    const io = capture();
    expect(await runCli(['train', manifest, '--config', file, '--print-config'], io)).toBe(2);
    const stderr = io.stderr.join('\n');
    expect(stderr).toContain(`error: the config file ${file} is invalid (2 problems):`);
    expect(stderr).toMatch(/^epochs \(line 1, column 1\): /m);
    expect(stderr).toMatch(/^batchSise \(line 2, column 1\): unknown field "batchSise"/m);
  });

  it('exits 2 for a config file that does not exist', async () => {
    const io = capture();
    expect(await runCli(['train', manifest, '--config', path.join(root, 'missing.yaml')], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain('found no file at');
  });
});
