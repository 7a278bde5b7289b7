/** The settings flags `train` and `run` share: shorthands for common fields plus `--set key=value`. */
import { Option, type Command } from 'commander';
import { KEEP_METRICS, KEEP_RULES, METHODS, PRESETS, type SettingsOverrides } from '../contracts/settings';
import { collectSetting, parseNonNegativeInteger, parsePositiveInteger, toSettingsOverrides } from './options';

export interface SettingsFlags {
  method?: string;
  preset?: string;
  epochs?: number;
  batchSize?: number;
  microBatchSize?: number;
  seed?: number;
  evalEvery?: number;
  keep?: string;
  keepMetric?: string;
  replicas?: number;
  set?: Record<string, unknown>;
}

export function addSettingsFlags(command: Command): Command {
  return command
    .addOption(new Option('--method <method>', 'method for this run').choices([...METHODS]))
    .addOption(new Option('--preset <preset>', 'Table 8 hyper-parameter preset').choices([...PRESETS]))
    .option('--epochs <n>', 'training epochs', parsePositiveInteger)
    .option('--batch-size <n>', 'effective batch size', parsePositiveInteger)
    .option('--micro-batch-size <n>', 'images per forward/backward pass (gradients accumulate to the batch size)', parsePositiveInteger)
    .option('--seed <n>', 'random seed (0, the default, included)', parseNonNegativeInteger)
    .option('--eval-every <n>', 'evaluate every n epochs during training (on the val split when the manifest has one, else test); 0 = only at the end', parseNonNegativeInteger)
    .addOption(new Option('--keep <rule>', "the weights the run ends with: the last epoch's or the best evaluated epoch's (needs --eval-every)").choices([...KEEP_RULES]))
    .addOption(new Option('--keep-metric <metric>', 'what --keep best maximises on the evaluated split').choices([...KEEP_METRICS]))
    .option('--replicas <n>', 'data-parallel replicas: worker threads on the CPU, one process per GPU (default: what the machine holds; 1 = one thread)', parsePositiveInteger)
    .option('--set <key=value>', 'any other setting, repeatable (e.g. --set alpha=0.2 --set components.fit=false)', collectSetting);
}

/** The flags as one validated overrides layer, or undefined when none was given. */
export function settingsOverridesFrom(flags: SettingsFlags): SettingsOverrides | undefined {
  const raw: Record<string, unknown> = { ...flags.set };
  const shorthands: [keyof SettingsFlags, string][] = [
    ['method', 'method'],
    ['preset', 'preset'],
    ['epochs', 'epochs'],
    ['batchSize', 'batchSize'],
    ['microBatchSize', 'microBatchSize'],
    ['seed', 'seed'],
    ['evalEvery', 'evalEvery'],
    ['keep', 'keep'],
    ['keepMetric', 'keepMetric'],
    ['replicas', 'replicas'],
  ];
  for (const [flag, field] of shorthands) if (flags[flag] !== undefined) raw[field] = flags[flag];
  return Object.keys(raw).length > 0 ? toSettingsOverrides(raw) : undefined;
}
