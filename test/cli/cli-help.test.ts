/** Every command answers --help with its usage and exits 0; usage errors exit 2. In-process, no training. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main';
import type { CliOutput } from '../../src/cli/output';

function capture(): CliOutput & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => stdout.push(text), err: (text) => stderr.push(text) };
}

const COMMANDS: [string[], RegExp][] = [
  [[], /Usage: sage \[options\] \[command\]/],
  [['prepare'], /Usage: sage prepare/],
  [['prepare', 'cifar100-lt'], /--archive <file>/],
  [['prepare', 'imagenet-lt'], /--train-list <file>/],
  [['prepare', 'places-lt'], /--class-names <file>/],
  [['prepare', 'inat2018'], /--val-json <file>/],
  [['prepare', 'folder'], /--test-per-class <n>/],
  [['prepare', 'procedural'], /--imbalance <beta>/],
  [['validate'], /Usage: sage validate \[options\] <manifest>/],
  [['train'], /--from-env/],
  [['evaluate'], /--adapter <dir>/],
  [['predict'], /--top-k <k>/],
  [['run'], /--buckets <dir>/],
  [['report'], /<inputs\.\.\.>/],
  [['submit'], /--stack <name>/],
  [['demo'], /Usage: sage demo \[options\]/],
];

describe('sage --help', () => {
  it.each(COMMANDS)('prints the usage of "sage %s --help" on stdout and exits 0', async (command, usage) => {
    const io = capture();
    expect(await runCli([...command, '--help'], io)).toBe(0);
    expect(io.stdout.join('\n')).toMatch(usage);
  });

  it('lists every command in the top-level help', async () => {
    const io = capture();
    await runCli(['--help'], io);
    for (const name of ['prepare', 'validate', 'train', 'evaluate', 'predict', 'run', 'report', 'submit', 'demo']) {
      expect(io.stdout.join('\n')).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
  });
});

describe('sage usage errors', () => {
  it('exits 2 for an unknown command, naming it', async () => {
    const io = capture();
    expect(await runCli(['bogus'], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain("unknown command 'bogus'");
  });

  it('exits 2 for a missing required option', async () => {
    const io = capture();
    expect(await runCli(['evaluate', 'manifest.json'], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain("required option '--adapter <dir>' not specified");
  });

  it('exits 2 for a flag value of the wrong kind, saying what was expected', async () => {
    const io = capture();
    expect(await runCli(['train', 'manifest.json', '--epochs', 'three'], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain('expected an integer, got "three"');
  });

  it('exits 2 for a setting out of range before loading anything', async () => {
    const io = capture();
    expect(await runCli(['train', 'manifest.json', '--set', 'alpha=3'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/invalid setting\(s\):\n\s+alpha: /);
  });

  it('exits 2 when train has neither a manifest nor --from-env', async () => {
    const io = capture();
    expect(await runCli(['train'], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain('missing the manifest argument');
  });

  it('exits 2 for --from-env without the job variables, naming them', async () => {
    const saved = { ...process.env };
    for (const name of ['SAGE_RUN_ID', 'SAGE_MANIFEST_URI', 'SAGE_RESULTS_URI', 'SAGE_CHECKPOINT_URI']) delete process.env[name];
    try {
      const io = capture();
      expect(await runCli(['train', '--from-env'], io)).toBe(2);
      expect(io.stderr.join('\n')).toContain('SAGE_RUN_ID, SAGE_MANIFEST_URI, SAGE_RESULTS_URI, SAGE_CHECKPOINT_URI');
    } finally {
      process.env = saved;
    }
  });

  it('exits 2 for a report input that does not exist', async () => {
    const io = capture();
    expect(await runCli(['report', '/nonexistent/summary.json'], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain('no file at /nonexistent/summary.json');
  });
});
