/**
 * A trained adapter, saved for prediction on new images: `adapter.safetensors` (the
 * trainable variables by name, plus the frozen `zero_shot.weight` W^zs and, when present,
 * `zero_shot.text_embeddings`) and `adapter.json` (format, settings, class names, the CLIP
 * it was trained on, the parameter report). Loading needs the same CLIP backbone.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParameterReport } from '../contracts/metrics';
import { Settings } from '../contracts/settings';
import type { ClipModel } from '../clip/types';
import { joinUri, storeFor } from '../storage';
import { EngineCheckpointError } from './errors';
import { buildSageModel, type SageModel } from './model';
import { assignVariables, entryWithShape, getSafetensors, putSafetensors, variableValues } from './tensors-io';

export const ADAPTER_VERSION = 1;

export interface AdapterHeader {
  version: typeof ADAPTER_VERSION;
  format: 'sage-adapter';
  settings: Settings;
  classNames: string[];
  clip: { source: string; hiddenSize: number; numLayers: number; imageSize: number; projectionDim: number };
  parameters: ParameterReport;
  savedAt: string;
}

/** Writes `adapter.safetensors` and `adapter.json` under the folder URI `uri`. */
export async function saveAdapter(model: SageModel, uri: string): Promise<void> {
  const tensors = await variableValues(model.trainableVariables());
  const zeroShot = tf.transpose(model.zeroShotWeightsT);
  tensors['zero_shot.weight'] = { shape: [...zeroShot.shape], data: (await zeroShot.data()) as Float32Array };
  zeroShot.dispose();
  if (model.textEmbeddings) tensors['zero_shot.text_embeddings'] = { shape: [...model.textEmbeddings.shape], data: (await model.textEmbeddings.data()) as Float32Array };
  await putSafetensors(joinUri(uri, 'adapter.safetensors'), tensors, { format: 'sage-adapter' });
  const vision = model.clip.config.vision;
  const header: AdapterHeader = {
    version: ADAPTER_VERSION,
    format: 'sage-adapter',
    settings: model.settings,
    classNames: [...model.classNames],
    clip: { source: model.clip.source, hiddenSize: vision.hiddenSize, numLayers: vision.numLayers, imageSize: vision.imageSize, projectionDim: model.clip.config.projectionDim },
    parameters: model.parameterReport(),
    savedAt: new Date().toISOString(),
  };
  const store = await storeFor(uri);
  await store.put(joinUri(uri, 'adapter.json'), JSON.stringify(header, null, 2), { contentType: 'application/json' });
}

/** Reads an adapter saved by saveAdapter into a model on `clip` (which must have the same shape). */
export async function loadAdapter(uri: string, options: { clip: ClipModel }): Promise<SageModel> {
  const { clip } = options;
  const store = await storeFor(uri);
  const headerUri = joinUri(uri, 'adapter.json');
  if (!(await store.exists(headerUri))) throw new EngineCheckpointError(`no saved adapter at ${uri}: ${headerUri} does not exist`);
  const header = JSON.parse(await store.getText(headerUri)) as AdapterHeader;
  if (header.format !== 'sage-adapter' || header.version !== ADAPTER_VERSION) {
    throw new EngineCheckpointError(`${headerUri}: expected a sage-adapter version ${ADAPTER_VERSION}; got format ${header.format} version ${header.version}`);
  }
  const vision = clip.config.vision;
  if (header.clip.hiddenSize !== vision.hiddenSize || header.clip.numLayers !== vision.numLayers) {
    throw new EngineCheckpointError(
      `adapter at ${uri} was trained on a CLIP with width ${header.clip.hiddenSize} and ${header.clip.numLayers} blocks (${header.clip.source}); the CLIP given has ${vision.hiddenSize} and ${vision.numLayers}`,
    );
  }
  const settings = Settings.parse(header.settings);
  const tensorsUri = joinUri(uri, 'adapter.safetensors');
  const tensors = await getSafetensors(tensorsUri);
  const numClasses = header.classNames.length;
  const zeroShot = entryWithShape(tensors, 'zero_shot.weight', [numClasses, vision.hiddenSize], tensorsUri);
  const text = tensors.get('zero_shot.text_embeddings');
  const zeroShotWeights = tf.tensor2d(zeroShot.data, [numClasses, vision.hiddenSize]);
  const textEmbeddings = text ? tf.tensor2d(text.data, [numClasses, clip.config.projectionDim]) : undefined;
  const model = buildSageModel({ clip, settings, classNames: header.classNames, zeroShotWeights, textEmbeddings });
  tf.dispose([zeroShotWeights, ...(textEmbeddings ? [textEmbeddings] : [])]);
  try {
    assignVariables(model.trainableVariables(), tensors, tensorsUri);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
