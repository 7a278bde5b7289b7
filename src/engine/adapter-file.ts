/**
 * A trained adapter, saved for prediction on new images: `adapter.safetensors` (the
 * trainable variables by name, plus the frozen `zero_shot.weight` W^zs and, when present,
 * `zero_shot.text_embeddings`) and `adapter.json` (src/contracts/adapter.ts: format, settings,
 * class names, the CLIP it was trained on, the parameter report). Loading needs the same CLIP
 * backbone. Both files live in a folder of an ObjectStore the caller gives.
 */
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip';
import { ADAPTER_VERSION, AdapterHeader, adapterClipMismatch, adapterClipShapeOf } from '../contracts/adapter';
import { RUN_FILES } from '../contracts/layout';
import { joinUri } from '../storage';
import { EngineCheckpointError, EngineInputError } from './errors';
import { buildSageModel, type SageModel } from './model';
import { assignVariables, entryWithShape, getSafetensors, parseHeaderJson, putSafetensors, variableValues, type StoreLocation } from './files';

export type { AdapterHeader };

// The names are the bucket layout's (src/contracts/layout.ts).
const HEADER_NAME = RUN_FILES.adapterHeader;
const TENSORS_NAME = RUN_FILES.adapterTensors;

/** Writes `adapter.safetensors` and `adapter.json` into `folder`. */
export async function saveAdapter(model: SageModel, folder: StoreLocation): Promise<void> {
  const tensors = await variableValues(model.trainableVariables());
  const zeroShot = tf.transpose(model.zeroShotWeightsT);
  tensors['zero_shot.weight'] = { shape: [...zeroShot.shape], data: (await zeroShot.data()) as Float32Array };
  zeroShot.dispose();
  if (model.textEmbeddings) tensors['zero_shot.text_embeddings'] = { shape: [...model.textEmbeddings.shape], data: (await model.textEmbeddings.data()) as Float32Array };
  await putSafetensors({ store: folder.store, uri: joinUri(folder.uri, TENSORS_NAME) }, tensors, { format: 'sage-adapter' });
  const header: AdapterHeader = {
    version: ADAPTER_VERSION,
    format: 'sage-adapter',
    settings: model.settings,
    classNames: [...model.classNames],
    clip: { source: model.clip.source, ...adapterClipShapeOf(model.clip.config) },
    parameters: model.parameterReport(),
    savedAt: new Date().toISOString(),
  };
  await folder.store.put(joinUri(folder.uri, HEADER_NAME), JSON.stringify(header, null, 2), { contentType: 'application/json' });
}

/** The validated `adapter.json` of the adapter in `folder`; EngineCheckpointError naming the file when it is missing or unreadable. */
export async function readAdapterHeader(folder: StoreLocation): Promise<AdapterHeader> {
  const uri = joinUri(folder.uri, HEADER_NAME);
  if (!(await folder.store.exists(uri))) throw new EngineCheckpointError(`no saved adapter at ${folder.uri}: ${uri} does not exist`);
  return parseHeaderJson(await folder.store.getText(uri), uri, { what: 'adapter header', format: 'sage-adapter', version: ADAPTER_VERSION, schema: AdapterHeader });
}

/**
 * Reads an adapter saved by saveAdapter into a model on `clip`, which must have the shape the
 * header records: a mismatch is bad input naming both sides (a ViT-B/32 under a ViT-B/16
 * adapter would otherwise load and predict nonsense, or fail in tf naming one side).
 */
export async function loadAdapter(folder: StoreLocation, options: { clip: ClipModel }): Promise<SageModel> {
  const { clip } = options;
  const header = await readAdapterHeader(folder);
  const vision = clip.config.vision;
  const mismatch = adapterClipMismatch(header.clip, adapterClipShapeOf(clip.config), `the CLIP given (${clip.source}) has`);
  // EngineInputError: bad input (exit 2), the files themselves are sound.
  if (mismatch) throw new EngineInputError(`adapter at ${folder.uri}: ${mismatch}`);
  const tensorsUri = joinUri(folder.uri, TENSORS_NAME);
  const tensors = await getSafetensors({ store: folder.store, uri: tensorsUri });
  const numClasses = header.classNames.length;
  const zeroShot = entryWithShape(tensors, 'zero_shot.weight', [numClasses, vision.hiddenSize], tensorsUri);
  const text = tensors.get('zero_shot.text_embeddings');
  const zeroShotWeights = tf.tensor2d(zeroShot.data, [numClasses, vision.hiddenSize]);
  const textEmbeddings = text ? tf.tensor2d(text.data, [numClasses, clip.config.projectionDim]) : undefined;
  const model = buildSageModel({ clip, settings: header.settings, classNames: header.classNames, zeroShotWeights, textEmbeddings });
  tf.dispose([zeroShotWeights, ...(textEmbeddings ? [textEmbeddings] : [])]);
  try {
    assignVariables(model.trainableVariables(), tensors, tensorsUri);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/**
 * Assigns the trainable tensors of the adapter saved in `folder` to `model` (the same settings'
 * shapes and classes): how a run ends with its best evaluated weights (`keep: best`). Every
 * shape is checked before the first assignment, so a file that does not fit leaves the model as it was.
 */
export async function loadAdapterWeights(model: SageModel, folder: StoreLocation): Promise<void> {
  const header = await readAdapterHeader(folder);
  if (JSON.stringify(header.classNames) !== JSON.stringify(model.classNames)) {
    throw new EngineCheckpointError(`adapter at ${folder.uri} has classes [${header.classNames.slice(0, 5).join(', ')}, ...]; the model has [${model.classNames.slice(0, 5).join(', ')}, ...]`);
  }
  const tensorsUri = joinUri(folder.uri, TENSORS_NAME);
  assignVariables(model.trainableVariables(), await getSafetensors({ store: folder.store, uri: tensorsUri }), tensorsUri);
}
