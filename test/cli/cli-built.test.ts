/**
 * The built CLI (scripts/build-cli.ts): it answers --help and validate with the right exit
 * codes without tsx, carries every worker module its code looks for beside itself, and
 * trains with decode worker threads from the bundle. Not timed: start-up is measured apart.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_DIST, buildCli, type CliBuildInfo } from '../../scripts/build-cli';
import { trainerCommand } from '../../src/local/job-runner';
import { runNode, writeTinyClip, writeTinyDataset } from './fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const node = runNode;


/** Every `'./<file>.js|.mjs'` a module resolves against its own import.meta.url: what must lie beside the bundle. */
async function filesLookedForBesideModules(dir: string): Promise<string[]> {
  const found = new Set<string>();
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const text = await readFile(path.join(entry.parentPath, entry.name), 'utf8');
    for (const line of text.split('\n')) {
      if (!line.includes('import.meta.url')) continue;
      for (const match of line.matchAll(/'\.\/([\w.-]+\.m?js)'/g)) found.add(match[1]!);
    }
  }
  return [...found].sort();
}

describe('the built CLI', () => {
  let info: CliBuildInfo;
  let main: string;
  let root: string;
  let manifest: string;

  beforeAll(async () => {
    info = await buildCli(repoRoot);
    main = path.join(repoRoot, CLI_DIST, info.id, 'main.mjs');
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-built-'));
    manifest = await writeTinyDataset(path.join(root, 'data'), await writeTinyClip(path.join(root, 'clip')), { name: 'built', training: { epochs: 1, batchSize: 8 } });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('records the build as current, with the sources it came from', async () => {
    const current = JSON.parse(await readFile(path.join(repoRoot, CLI_DIST, 'current.json'), 'utf8')) as CliBuildInfo;
    expect(current.id).toBe(info.id);
    expect(info.inputs).toContain('src/cli/main.ts');
    expect(info.inputs).toContain('src/data/decode/worker-entry.mjs');
    expect(info.inputs.some((input) => input.startsWith('node_modules'))).toBe(false);
  });

  it('runs --help (exit 0), an unknown command (exit 2) and validate (0 for a good manifest, 2 for a missing one)', async () => {
    const help = await node([main, '--help'], root);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: sage \[options\] \[command\]/);
    const bogus = await node([main, 'bogus'], root);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain("unknown command 'bogus'");
    const valid = await node([main, 'validate', manifest], root);
    expect(valid.code, valid.stderr).toBe(0);
    expect(valid.stdout).toContain(`valid: ${manifest}`);
    const missing = await node([main, 'validate', path.join(root, 'none.json')], root);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no manifest at');
  });

  it('keeps each command in its own chunks: the entry is small and loads no TensorFlow.js', async () => {
    const text = await readFile(main, 'utf8');
    expect(text).not.toMatch(/from ["']@tensorflow\//);
    expect(text).toMatch(/import\(["']\.\/chunk-/);
  });

  it('has beside it every worker file the sources look for next to their module', async () => {
    const wanted = await filesLookedForBesideModules(path.join(repoRoot, 'src'));
    expect(wanted).toEqual(expect.arrayContaining(['worker-entry.mjs', 'worker.js']));
    for (const file of wanted) expect(existsSync(path.join(repoRoot, CLI_DIST, info.id, file)), file).toBe(true);
  });

  it('starts trainers from the same build, and from the sources through tsx', () => {
    const chunk = pathToFileURL(path.join(repoRoot, CLI_DIST, info.id, 'chunk-ABC.mjs')).href;
    expect(trainerCommand(chunk)).toEqual([main, 'train', '--from-env']);
    const source = pathToFileURL(path.join(repoRoot, 'src', 'local', 'job-runner.ts')).href;
    const fromSource = trainerCommand(source);
    expect(fromSource[0]).toBe('--import');
    expect(fromSource.slice(2)).toEqual([path.join(repoRoot, 'src', 'cli', 'main.ts'), 'train', '--from-env']);
  });

  it('trains with decode worker threads from the bundle, and prints one JSON document with --json', async () => {
    const out = path.join(root, 'train');
    const result = await node([main, 'train', manifest, '--out', out, '--workers', '1', '--seed', '0', '--json'], root);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as { metricsUri: string; metrics: { config: { seed: number; epochs: number } } };
    expect(document.metricsUri).toBe(path.join(out, '0', 'metrics.json'));
    expect(document.metrics.config).toMatchObject({ seed: 0, epochs: 1 });
    expect(existsSync(document.metricsUri)).toBe(true);
  });
});
