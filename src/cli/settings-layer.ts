/**
 * The settings layer `sage train`, `run` and `submit` add over a manifest: the `--config`
 * file, then the settings flags over it (settings-flags.ts). `train` hands the layer to the
 * trainer as its last one; `run` and `submit` fold it into the manifest they stage or upload
 * (src/local/stage-manifest.ts withSettingsLayer), so the run's record, its report and
 * results.csv show the settings a person gave. `--print-config` shows the result and stops.
 */
import type { Command } from 'commander';
import { ZodError } from 'zod';
import { methodLabel, resolveSettings, type Settings, type SettingsOverrides } from '../contracts/settings';
import type { Manifest } from '../manifest/schema';
import { mergeSettingsLayers } from '../local/stage-manifest';
import { readConfigFile } from './config-file';
import { CliInputError } from './exit-codes';
import { parseLocation } from './options';
import type { CliOutput } from './output';
import { settingsOverridesFrom, type SettingsFlags } from './settings-flags';

export interface ConfigFlags {
  config?: string;
  printConfig?: boolean;
}

export function addConfigFlags(command: Command): Command {
  return command
    .option('--config <file>', 'settings file (YAML or JSON, path or s3:// URI) with the fields of a manifest\'s "training"; the settings flags override it', parseLocation)
    .option('--print-config', "print the settings layer (file, then flags) and each run's resolved settings as JSON, then exit without running");
}

/** The file's layer with the flags' layer over it; undefined when neither gives a setting. */
export async function settingsLayerFrom(flags: SettingsFlags & ConfigFlags): Promise<SettingsOverrides | undefined> {
  const file = flags.config ? await readConfigFile(flags.config) : undefined;
  const fromFlags = settingsOverridesFrom(flags);
  if (!file) return fromFlags;
  if (!fromFlags) return file;
  return mergeSettingsLayers(file, fromFlags) as SettingsOverrides;
}

/** What --print-config prints: the layer, and per run its method label and every resolved setting. */
export interface PrintedConfig {
  manifest: string;
  layer: SettingsOverrides;
  runs: { sweepIndex: number; method: string; settings: Settings }[];
}

function entryOf(manifest: Pick<Manifest, 'sweep'>, sweepIndex: number): SettingsOverrides | undefined {
  return manifest.sweep?.[sweepIndex];
}

/**
 * The resolved settings of the runs `indices` with the layer on top; a combination the
 * schema refuses (a batch size below a sweep entry's micro-batch) is bad input, named by
 * its sweep entry.
 */
export function runsWithLayer(manifest: Pick<Manifest, 'training' | 'sweep'>, layer: SettingsOverrides | undefined, indices: readonly number[]): PrintedConfig['runs'] {
  return indices.map((sweepIndex) => {
    try {
      const settings = resolveSettings(manifest.training, entryOf(manifest, sweepIndex), layer);
      return { sweepIndex, method: methodLabel(settings), settings };
    } catch (error) {
      if (!(error instanceof ZodError)) throw error;
      const detail = error.issues.map((issue) => `${issue.path.join('.') || '(settings)'}: ${issue.message}`).join('; ');
      const where = manifest.sweep ? `sweep entry ${sweepIndex}` : 'the manifest';
      throw new CliInputError(`the settings given on the command line make ${where} invalid: ${detail}`);
    }
  });
}

/** Every sweep index of the manifest. */
export function allRuns(manifest: Pick<Manifest, 'sweep'>): number[] {
  return Array.from({ length: manifest.sweep?.length ?? 1 }, (_, i) => i);
}

/** Reads the manifest's text (schema only: no lists, no storage) for --print-config and the layer check. */
export async function parsedManifestAt(manifestUri: string): Promise<Manifest> {
  const { storeFor } = await import('../storage');
  const { readManifestBytes, decodeManifestBytes, ManifestValidationError } = await import('../manifest');
  const { parseManifest } = await import('../manifest');
  const store = await storeFor(manifestUri);
  if (!(await store.exists(manifestUri))) throw new CliInputError(`no manifest at ${manifestUri}`);
  const decoded = decodeManifestBytes(await readManifestBytes(store, manifestUri));
  if (!decoded.ok) throw new ManifestValidationError(decoded.problems, manifestUri);
  const parsed = parseManifest(decoded.text);
  if (!parsed.ok) throw new ManifestValidationError(parsed.problems, manifestUri);
  return parsed.manifest;
}

/** Prints --print-config's document on stdout. */
export function printConfig(manifestUri: string, manifest: Pick<Manifest, 'training' | 'sweep'>, layer: SettingsOverrides | undefined, indices: readonly number[], output: CliOutput): void {
  const printed: PrintedConfig = { manifest: manifestUri, layer: layer ?? {}, runs: runsWithLayer(manifest, layer, indices) };
  output.out(JSON.stringify(printed, null, 2));
}
