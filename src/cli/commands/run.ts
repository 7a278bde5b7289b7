/** `sage run <manifest>`: the whole pipeline on this machine (validation, training, aggregation, report). */
import type { Command } from 'commander';
import { DEFAULT_BUCKETS_ROOT } from '../../local/buckets';
import type { LocalRunFlags } from '../local-run';
import { locationOption, parseLocation, parseNonNegativeInteger, parsePositiveInteger } from '../options';
import type { CliOutput } from '../output';
import { addSettingsFlags, type SettingsFlags } from '../settings-flags';
import { addConfigFlags, type ConfigFlags } from '../settings-layer';

export interface LocalRunFlagDefaults {
  /** Default root of the buckets; without one the command has no --buckets flag (the demo keeps them in its folder). */
  buckets?: string;
  parallel: number;
}

export function addLocalRunFlags(command: Command, defaults: LocalRunFlagDefaults): Command {
  if (defaults.buckets !== undefined) command.addOption(locationOption('--buckets <dir>', 'root of the local buckets (data/, results/, artifacts/)', defaults.buckets));
  return command
    .option('--parallel <n>', 'sweep entries trained at the same time (each in its own process)', parsePositiveInteger, defaults.parallel)
    .option('--in-process', 'train in this process instead of one child process per job')
    .option('--workers <n>', 'image decoding threads per job (default: CPU cores)', parseNonNegativeInteger)
    .option('--cache-dir <dir>', 'cache for CLIP weights and text classifiers (in-process runs)', parseLocation);
}

export function registerRun(program: Command, output: CliOutput): void {
  const command = program
    .command('run')
    .description('run a manifest through the local pipeline: the upload handler validates and submits, the trainer runs every sweep entry, the aggregation handler writes the summary and the report')
    .argument('<manifest>', 'manifest JSON (path or s3:// URI)', parseLocation)
    .option('--json', 'print {outcome, runId, manifestName, summaryUri, report, rows} as JSON on stdout instead of the table');
  addLocalRunFlags(command, { buckets: DEFAULT_BUCKETS_ROOT, parallel: 1 });
  addConfigFlags(addSettingsFlags(command)).action(async (manifestUri: string, flags: LocalRunFlags & SettingsFlags & ConfigFlags) => {
    const { settingsLayerFrom, printConfig, parsedManifestAt, allRuns } = await import('../settings-layer');
    const settings = await settingsLayerFrom(flags);
    if (flags.printConfig) {
      const manifest = await parsedManifestAt(manifestUri);
      printConfig(manifestUri, manifest, settings, allRuns(manifest), output);
      return;
    }
    const { runManifestLocally } = await import('../local-run');
    await runManifestLocally(manifestUri, { ...flags, ...(settings ? { settings } : {}) }, output);
  });
}
