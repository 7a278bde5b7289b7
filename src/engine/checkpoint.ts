/**
 * Training checkpoints, two generations deep, in a folder of an ObjectStore the caller gives:
 *
 *   checkpoint.json                     the newest header (src/contracts/checkpoint.ts)
 *   checkpoint.previous.json            the header before it
 *   state-e<epoch>-s<step>.safetensors  each header's tensors: params by name, `momentum.<name>` slots
 *
 * A save writes the new tensors first, then moves the newest header to `checkpoint.previous.json`
 * and writes the new one, then deletes state files neither header names. Every put replaces a
 * whole object, so at each moment both headers name complete files. On resume the newest usable
 * generation wins: a header that is truncated, not JSON or not a checkpoint, or a state file that
 * is missing, truncated, altered (its SHA-256 is in the header) or of the wrong shapes, is
 * reported with its file name and the previous generation is tried; with neither, training starts
 * afresh with a warning. A checkpoint of other settings or classes is refused, never skipped.
 */
import { createHash } from 'node:crypto';
import { CHECKPOINT_HEADER_FILES, CHECKPOINT_VERSION, CheckpointHeader, type CheckpointGeneration, type LoopPosition } from '../contracts/checkpoint';
import type { EpochMetrics } from '../contracts/metrics';
import { trainingSettingsOf } from '../contracts/settings';
import { basenameUri, joinUri } from '../storage';
import { EngineCheckpointError } from './errors';
import type { SageModel } from './model';
import type { SgdMomentum } from './step';
import { assignVariables, entryWithShape, parseHeaderJson, parseSafetensors, putSafetensors, variableValues, type StoreLocation } from './files';

export type { CheckpointHeader, CheckpointGeneration, LoopPosition };

const STATE_FILE = /^state-e\d+-s\d+\.safetensors$/;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function headerFile(folder: StoreLocation, generation: CheckpointGeneration): string {
  return joinUri(folder.uri, CHECKPOINT_HEADER_FILES[generation]);
}

/** Objects directly inside the folder (not in sub-folders). */
async function folderFiles(folder: StoreLocation): Promise<string[]> {
  const prefix = `${folder.uri.replace(/\/+$/, '')}/`;
  const listed = await folder.store.list(prefix);
  return listed.map((o) => o.uri).filter((uri) => uri.startsWith(prefix) && !uri.slice(prefix.length).includes('/'));
}

/** Parses a header's text, or throws an EngineCheckpointError that names the file and says what is wrong. */
function parseHeader(text: string, uri: string): CheckpointHeader {
  return parseHeaderJson(text, uri, { what: 'checkpoint header', format: 'sage-checkpoint', version: CHECKPOINT_VERSION, schema: CheckpointHeader });
}

/**
 * The header of one generation of the checkpoint in `folder` (default the newest), or null when
 * that file does not exist. Throws EngineCheckpointError naming the file when it is unreadable.
 */
export async function readCheckpointHeader(folder: StoreLocation, generation: CheckpointGeneration = 'latest'): Promise<CheckpointHeader | null> {
  const uri = headerFile(folder, generation);
  if (!(await folder.store.exists(uri))) return null;
  return parseHeader(await folder.store.getText(uri), uri);
}

/**
 * Writes a new generation. The newest header on disk becomes the previous generation when
 * `keepLatest` (the default); pass false when it is known to be unusable (training resumed from
 * the previous generation or started afresh over it), so the good previous one stays.
 */
export async function saveCheckpoint(
  folder: StoreLocation,
  parts: { model: SageModel; optimizer: SgdMomentum; position: LoopPosition; history: EpochMetrics[] },
  options: { keepLatest?: boolean } = {},
): Promise<void> {
  const { model, optimizer, position } = parts;
  const { store } = folder;
  const variables = model.trainableVariables();
  const state = await optimizer.state();
  const tensors = await variableValues(variables);
  state.slots.forEach((slot, i) => {
    const v = variables[i]!;
    tensors[`momentum.${v.name}`] = { shape: [...v.variable.shape], data: slot };
  });
  const stateFile = `state-e${position.epoch}-s${position.step}.safetensors`;
  const stateBytes = await putSafetensors({ store, uri: joinUri(folder.uri, stateFile) }, tensors, { format: 'sage-checkpoint' });
  const header: CheckpointHeader = {
    version: CHECKPOINT_VERSION,
    format: 'sage-checkpoint',
    settings: model.settings,
    classNames: [...model.classNames],
    variables: variables.map((v) => v.name),
    stateFile,
    stateSha256: sha256(stateBytes),
    optimizerIterations: state.iterations,
    rng: { seed: model.settings.seed, epoch: position.epoch, skipItems: position.step * model.settings.batchSize },
    position,
    history: parts.history,
    savedAt: new Date().toISOString(),
  };
  const latestUri = headerFile(folder, 'latest');
  if (options.keepLatest ?? true) {
    // An unreadable header is never promoted; one naming the file just written would be overwritten by it.
    const latestText = (await store.exists(latestUri)) ? await store.getText(latestUri) : null;
    const latest = latestText === null ? null : tryParse(latestText, latestUri);
    if (latestText !== null && latest && latest.stateFile !== stateFile) await store.put(headerFile(folder, 'previous'), latestText, { contentType: 'application/json' });
  }
  await store.put(latestUri, JSON.stringify(header, null, 2), { contentType: 'application/json' });

  const previous = await readCheckpointHeader(folder, 'previous').catch(() => null);
  const keep = new Set([stateFile, previous?.stateFile]);
  for (const uri of await folderFiles(folder)) {
    const name = basenameUri(uri);
    if (STATE_FILE.test(name) && !keep.has(name)) await store.delete(uri).catch(() => undefined);
  }
}

function tryParse(text: string, uri: string): CheckpointHeader | null {
  try {
    return parseHeader(text, uri);
  } catch {
    return null;
  }
}

/** Refuses a checkpoint of other settings, classes or variables: resuming it would train another model. */
function checkFits(header: CheckpointHeader, model: SageModel, uri: string): void {
  // Evaluation-only settings (evalEvery, keep, keepMetric) may differ: they do not change the weights.
  if (JSON.stringify(trainingSettingsOf(header.settings)) !== JSON.stringify(trainingSettingsOf(model.settings))) {
    throw new EngineCheckpointError(`checkpoint at ${uri} was written with other settings; expected ${JSON.stringify(model.settings)}, found ${JSON.stringify(header.settings)}`);
  }
  if (JSON.stringify(header.classNames) !== JSON.stringify(model.classNames)) {
    throw new EngineCheckpointError(`checkpoint at ${uri} has classes [${header.classNames.slice(0, 5).join(', ')}, ...]; the model has [${model.classNames.slice(0, 5).join(', ')}, ...]`);
  }
  const names = model.trainableVariables().map((v) => v.name);
  if (JSON.stringify(header.variables) !== JSON.stringify(names)) {
    throw new EngineCheckpointError(`checkpoint at ${uri} holds variables in another order or set than the model (${header.variables.length} vs ${names.length})`);
  }
}

/** Restores one generation into the model and optimizer; throws EngineCheckpointError naming the state file when it is unusable. */
async function restoreGeneration(folder: StoreLocation, header: CheckpointHeader, model: SageModel, optimizer: SgdMomentum): Promise<void> {
  const stateUri = joinUri(folder.uri, header.stateFile);
  if (!(await folder.store.exists(stateUri))) throw new EngineCheckpointError(`checkpoint state file ${stateUri} does not exist`);
  const bytes = await folder.store.get(stateUri);
  // Parsed first, so a truncated file says so; the hash then catches altered values.
  const tensors = parseSafetensors(bytes, stateUri);
  const digest = sha256(bytes);
  if (header.stateSha256 && digest !== header.stateSha256) {
    throw new EngineCheckpointError(`checkpoint state file ${stateUri} has changed since it was written (SHA-256 ${digest.slice(0, 12)}…, the header says ${header.stateSha256.slice(0, 12)}…)`);
  }
  const variables = model.trainableVariables();
  const hasSlots = variables.length > 0 && tensors.has(`momentum.${variables[0]!.name}`);
  // Every shape is checked before anything is assigned, so a bad file leaves the model untouched.
  const slots = hasSlots ? variables.map((v) => entryWithShape(tensors, `momentum.${v.name}`, v.variable.shape, stateUri).data) : [];
  assignVariables(variables, tensors, stateUri);
  await optimizer.restore({ iterations: header.optimizerIterations, slots });
}

/** Removes half-written `*.tmp` files an interrupted writer left in the folder; returns their names. */
export async function removeStaleTemporaryFiles(folder: StoreLocation): Promise<string[]> {
  const stale = (await folderFiles(folder)).filter((uri) => uri.endsWith('.tmp'));
  for (const uri of stale) await folder.store.delete(uri);
  return stale.map(basenameUri);
}

export interface ResumePoint {
  header: CheckpointHeader;
  generation: CheckpointGeneration;
}

export interface ResumeOutcome {
  /** The generation restored, or null (nothing there, or nothing usable). */
  point: ResumePoint | null;
  /** The newest header exists but could not be used (so the next save must not keep it as the previous generation). */
  latestUnusable: boolean;
}

/**
 * Restores the newest usable generation of the checkpoint in `folder` into a freshly built
 * model and its optimizer. Each unusable file is reported through `warn`, naming it and why, and
 * so is a fresh start over an unusable checkpoint. Throws EngineCheckpointError for a
 * checkpoint of another model (settings, classes or variables).
 */
export async function resumeCheckpoint(
  folder: StoreLocation,
  model: SageModel,
  optimizer: SgdMomentum,
  warn: (kind: 'checkpoint-unusable' | 'checkpoint-fresh-start', message: string) => void,
): Promise<ResumeOutcome> {
  const unusable: CheckpointGeneration[] = [];
  const skip = (generation: CheckpointGeneration, error: unknown): void => {
    if (!(error instanceof EngineCheckpointError)) throw error;
    unusable.push(generation);
    warn('checkpoint-unusable', `${error.message}; ${generation === 'latest' ? 'trying the previous generation' : 'no older generation is kept'}`);
  };
  for (const generation of ['latest', 'previous'] as const) {
    let header: CheckpointHeader | null;
    try {
      header = await readCheckpointHeader(folder, generation);
    } catch (error) {
      skip(generation, error);
      continue;
    }
    if (!header) continue;
    checkFits(header, model, folder.uri);
    try {
      await restoreGeneration(folder, header, model, optimizer);
    } catch (error) {
      skip(generation, error);
      continue;
    }
    return { point: { header, generation }, latestUnusable: unusable.includes('latest') };
  }
  if (unusable.length > 0) warn('checkpoint-fresh-start', `no usable checkpoint in ${folder.uri} (${unusable.map((g) => CHECKPOINT_HEADER_FILES[g]).join(', ')} unusable): training starts afresh`);
  return { point: null, latestUnusable: unusable.includes('latest') };
}
