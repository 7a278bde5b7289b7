/**
 * Training checkpoints: the trainable variables and the momentum slots as safetensors,
 * plus `checkpoint.json` with the loop position, the finished epochs' metrics and the
 * settings. The tensors go to a new file first and the JSON, which names that file, is
 * written last, so the JSON always points at a complete state; the previous file is
 * deleted after. Layout under the checkpoint URI:
 *
 *   checkpoint.json                   { version, format, settings, classNames, variables, position, ... }
 *   state-e<epoch>-s<step>.safetensors  param tensors by name; `momentum.<name>` slots
 */
import type { EpochMetrics } from '../contracts/metrics';
import { joinUri, storeFor } from '../storage';
import { EngineCheckpointError } from './errors';
import type { SageModel } from './model';
import type { SgdMomentum } from './optimizer';
import { assignVariables, entryWithShape, getSafetensors, putSafetensors, variableValues } from './tensors-io';

export const CHECKPOINT_VERSION = 1;
const HEADER_NAME = 'checkpoint.json';

/** Where the loop stands: the 0-based epoch in progress and the steps done within it. */
export interface LoopPosition {
  epoch: number;
  step: number;
  /** Running sums of the unfinished epoch, so its metrics come out as without a stop. */
  epochLossSum: number;
  epochCorrect: number;
  epochSeen: number;
  epochSeconds: number;
  lastFiniteLoss: number | null;
  /** Seconds and images over all epochs so far (for images/s). */
  trainSeconds: number;
  imagesSeen: number;
}

export interface CheckpointHeader {
  version: typeof CHECKPOINT_VERSION;
  format: 'sage-checkpoint';
  settings: unknown;
  classNames: string[];
  /** Trainable variable names in optimizer slot order. */
  variables: string[];
  stateFile: string;
  optimizerIterations: number;
  /**
   * The only randomness in training is the data order, drawn by the source from
   * (seed, epoch); resuming re-seeds it and skips `step · batchSize` items.
   */
  rng: { seed: number; epoch: number; skipItems: number };
  position: LoopPosition;
  history: EpochMetrics[];
  savedAt: string;
}

export async function saveCheckpoint(
  uri: string,
  parts: { model: SageModel; optimizer: SgdMomentum; position: LoopPosition; history: EpochMetrics[] },
): Promise<void> {
  const { model, optimizer, position } = parts;
  const store = await storeFor(uri);
  const headerUri = joinUri(uri, HEADER_NAME);
  const previous = await readHeader(uri);
  const variables = model.trainableVariables();
  const state = await optimizer.state();
  const tensors = await variableValues(variables);
  state.slots.forEach((slot, i) => {
    const v = variables[i]!;
    tensors[`momentum.${v.name}`] = { shape: [...v.variable.shape], data: slot };
  });
  const stateFile = `state-e${position.epoch}-s${position.step}.safetensors`;
  await putSafetensors(joinUri(uri, stateFile), tensors, { format: 'sage-checkpoint' });
  const header: CheckpointHeader = {
    version: CHECKPOINT_VERSION,
    format: 'sage-checkpoint',
    settings: model.settings,
    classNames: [...model.classNames],
    variables: variables.map((v) => v.name),
    stateFile,
    optimizerIterations: state.iterations,
    rng: { seed: model.settings.seed, epoch: position.epoch, skipItems: position.step * model.settings.batchSize },
    position,
    history: parts.history,
    savedAt: new Date().toISOString(),
  };
  await store.put(headerUri, JSON.stringify(header, null, 2), { contentType: 'application/json' });
  if (previous && previous.stateFile !== stateFile) await store.delete(joinUri(uri, previous.stateFile)).catch(() => undefined);
}

/** The header of the checkpoint at `uri`, or null when there is none. */
export async function readHeader(uri: string): Promise<CheckpointHeader | null> {
  const store = await storeFor(uri);
  const headerUri = joinUri(uri, HEADER_NAME);
  if (!(await store.exists(headerUri))) return null;
  const parsed = JSON.parse(await store.getText(headerUri)) as Partial<CheckpointHeader>;
  if (parsed.format !== 'sage-checkpoint' || parsed.version !== CHECKPOINT_VERSION) {
    throw new EngineCheckpointError(`${headerUri}: expected a sage-checkpoint version ${CHECKPOINT_VERSION}; got format ${parsed.format} version ${parsed.version}`);
  }
  return parsed as CheckpointHeader;
}

/** Restores variables and momentum into a freshly built model; refuses a checkpoint of other settings or classes. */
export async function restoreCheckpoint(uri: string, header: CheckpointHeader, model: SageModel, optimizer: SgdMomentum): Promise<void> {
  if (JSON.stringify(header.settings) !== JSON.stringify(model.settings)) {
    throw new EngineCheckpointError(`checkpoint at ${uri} was written with other settings; expected ${JSON.stringify(model.settings)}, found ${JSON.stringify(header.settings)}`);
  }
  if (JSON.stringify(header.classNames) !== JSON.stringify(model.classNames)) {
    throw new EngineCheckpointError(`checkpoint at ${uri} has classes [${header.classNames.slice(0, 5).join(', ')}, ...]; the model has [${model.classNames.slice(0, 5).join(', ')}, ...]`);
  }
  const variables = model.trainableVariables();
  const names = variables.map((v) => v.name);
  if (JSON.stringify(header.variables) !== JSON.stringify(names)) {
    throw new EngineCheckpointError(`checkpoint at ${uri} holds variables in another order or set than the model (${header.variables.length} vs ${names.length})`);
  }
  const stateUri = joinUri(uri, header.stateFile);
  const tensors = await getSafetensors(stateUri);
  assignVariables(variables, tensors, stateUri);
  const hasSlots = variables.length > 0 && tensors.has(`momentum.${variables[0]!.name}`);
  const slots = hasSlots ? variables.map((v) => entryWithShape(tensors, `momentum.${v.name}`, v.variable.shape, stateUri).data) : [];
  await optimizer.restore({ iterations: header.optimizerIterations, slots });
}
