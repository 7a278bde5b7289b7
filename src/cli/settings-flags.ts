/** The settings flags `train` and `run` share: shorthands for common fields plus `--set key=value`. */
import { Option, type Command } from 'commander';
import { METHODS, PRESETS, type SettingsOverrides } from '../contracts/settings';
import { collectSetting, parsePositiveInteger, toSettingsOverrides } from './options';

export interface SettingsFlags {
  method?: string;
  preset?: string;
  epochs?: number;
  batchSize?: number;
  microBatchSize?: number;
  seed?: number;
  set?: Record<string, unknown>;
}

export function addSettingsFlags(command: Command): Command {
  return command
    .addOption(new Option('--method <method>', 'method for this run').choices([...METHODS]))
    .addOption(new Option('--preset <preset>', 'Table 8 hyper-parameter preset').choices([...PRESETS]))
    .option('--epochs <n>', 'training epochs', parsePositiveInteger)
    .option('--batch-size <n>', 'effective batch size', parsePositiveInteger)
    .option('--micro-batch-size <n>', 'images per forward/backward pass (gradients accumulate to the batch size)', parsePositiveInteger)
    .option('--seed <n>', 'random seed', parsePositiveInteger)
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
  ];
  for (const [flag, field] of shorthands) if (flags[flag] !== undefined) raw[field] = flags[flag];
  return Object.keys(raw).length > 0 ? toSettingsOverrides(raw) : undefined;
}
