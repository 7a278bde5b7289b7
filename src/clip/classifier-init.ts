/**
 * The text-initialised classifier W^zs (SPEC "Classifier init"): for each class, the
 * L2-normalised projected text features of every template, averaged, normalised,
 * mapped into the image hidden space with `t·P` (P = visual_projection.weight,
 * `[projectionDim, visionHidden]`) and normalised again. Text encoding is the costly
 * part (60 prompts a class), so results are cached by model, class list and mode.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { storeFor } from '../storage';
import { defaultClipCacheDir } from './folder';
import { l2NormalizeRows } from './layers';
import { type ClipLog, formatSeconds, percent, silentClipLog, StageProgress } from './progress';
import { readSafetensors, writeSafetensors } from './safetensors';
import { fillTemplate, type TemplateMode, templatesFor } from './templates';
import type { ClipModel, ClipTokenizer } from './types';
import { ClipError } from '../common/errors';

export interface ZeroShotClassifierOptions {
  /** `ensemble60` (Appendix F, the Init component) or `single` ("a photo of a [cls]."). Default `ensemble60`. */
  templates?: TemplateMode;
  /** Directory (or `s3://` prefix) for the cache; null disables it. Default `<clip cache>/classifiers`. */
  cacheDir?: string | null;
  /** Prompts per text-tower call. Default 256. */
  batchSize?: number;
  /**
   * Receives the stage lines: classes × templates, prompts done with an ETA (after the first
   * batch and at each tenth), the total time, or the cache hit. Default: silent.
   */
  log?: ClipLog;
  /** Who encodes the prompt batches; default encodePromptBatches (in order, on this thread). Data-parallel replicas share them out. */
  encoder?: PromptEncoder;
}

/** One batch of tokenised prompts: `rows` rows of `contextLength` ids. */
export interface TokenBatch {
  ids: Int32Array;
  rows: number;
  contextLength: number;
}

/**
 * Encodes prompt batches into L2-normalised projected text features, one `[rows, projectionDim]`
 * tensor per batch in the order given (each as encodePromptBatch computes it, so any split of the
 * batches gives the same values); `done(n)` after each batch with the prompts finished so far.
 */
export type PromptEncoder = (model: ClipModel, batches: readonly TokenBatch[], done: (prompts: number) => void) => Promise<tf.Tensor2D[]>;

export interface ZeroShotClassifier {
  /** W^zs: `[classes, visionHidden]`, rows L2-normalised, in the image feature space of f. */
  weights: tf.Tensor2D;
  /** Averaged, normalised text embeddings `[classes, projectionDim]` (zero-shot CLIP's classifier). */
  textEmbeddings: tf.Tensor2D;
  /** Where the cache entry lives (null when caching is off) and whether it was read from there. */
  cacheUri: string | null;
  fromCache: boolean;
}

/** A cache entry exists but does not hold what this call needs. */
export class ClipClassifierCacheError extends ClipError {
  constructor(message: string) {
    super(message, { kind: 'failure' });
    this.name = 'ClipClassifierCacheError';
  }
}

export function classifierCacheKey(model: ClipModel, classNames: readonly string[], mode: TemplateMode): string {
  const identity = JSON.stringify({ model: model.fingerprint ?? model.source, classNames, mode, version: 1 });
  return createHash('sha256').update(identity).digest('hex').slice(0, 24);
}

/** The L2-normalised projected text features of one batch: `[rows, projectionDim]`. */
export function encodePromptBatch(model: ClipModel, batch: TokenBatch): tf.Tensor2D {
  return tf.tidy(() => {
    const ids = tf.tensor2d(batch.ids, [batch.rows, batch.contextLength], 'int32');
    return l2NormalizeRows(model.encodeText(ids));
  });
}

/** The default PromptEncoder: every batch in order, on this thread. */
export const encodePromptBatches: PromptEncoder = async (model, batches, done) => {
  const out: tf.Tensor2D[] = [];
  let prompts = 0;
  for (const batch of batches) {
    out.push(encodePromptBatch(model, batch));
    prompts += batch.rows;
    done(prompts);
  }
  return out;
};

/** Mean of the normalised text embeddings of each class's prompts, normalised: `[classes, projectionDim]`. */
async function textClassifier(
  model: ClipModel,
  tokenizer: ClipTokenizer,
  classNames: readonly string[],
  templates: readonly string[],
  batchSize: number,
  log: ClipLog,
  encoder: PromptEncoder,
): Promise<tf.Tensor2D> {
  const prompts = classNames.flatMap((name) => templates.map((template) => fillTemplate(template, name)));
  const batches: TokenBatch[] = [];
  for (let start = 0; start < prompts.length; start += batchSize) batches.push(tokenizer.encodeBatch(prompts.slice(start, start + batchSize)));
  log(
    `text classifier: ${classNames.length} classes × ${templates.length} template${templates.length === 1 ? '' : 's'} = ${prompts.length} prompts, ` +
      `${batches.length} batch${batches.length === 1 ? '' : 'es'} of up to ${batchSize}`,
  );
  const progress = new StageProgress(
    prompts.length,
    (done, total, elapsed, eta) => {
      if (done < total) log(`text classifier: ${done}/${total} prompts (${percent(done, total)}), ${formatSeconds(elapsed)}, ETA ${formatSeconds(eta)}`);
    },
    { steps: 10, first: true },
  );
  const chunks = await encoder(model, batches, (done) => progress.update(done));
  const result = tf.tidy(() => {
    const all = tf.concat(chunks, 0); // [classes*templates, projectionDim]
    const perClass = tf.mean(tf.reshape(all, [classNames.length, templates.length, model.config.projectionDim]), 1) as tf.Tensor2D; // [classes, projectionDim]
    tf.dispose(chunks);
    return l2NormalizeRows(perClass);
  });
  log(`text classifier: ${prompts.length} prompts encoded in ${formatSeconds(progress.elapsed())}`);
  return result;
}

/**
 * W^zs and the zero-shot text classifier for `classNames`, computed once per
 * (model weights, class list, template mode) and cached as safetensors.
 */
export async function zeroShotClassifier(
  model: ClipModel,
  tokenizer: ClipTokenizer,
  classNames: readonly string[],
  options: ZeroShotClassifierOptions = {},
): Promise<ZeroShotClassifier> {
  const mode = options.templates ?? 'ensemble60';
  const cacheDir = options.cacheDir === undefined ? path.join(defaultClipCacheDir(), 'classifiers') : options.cacheDir;
  const log = options.log ?? silentClipLog;
  const cacheUri = cacheDir === null ? null : `${cacheDir.replace(/\/+$/, '')}/zero-shot-${classifierCacheKey(model, classNames, mode)}.safetensors`;
  const store = cacheUri ? await storeFor(cacheUri) : null;
  let textEmbeddings: tf.Tensor2D;
  let fromCache = false;
  if (store && cacheUri && (await store.exists(cacheUri))) {
    const entry = readSafetensors(new Uint8Array(await store.get(cacheUri))).get('text_embeddings');
    if (!entry || entry.shape[0] !== classNames.length || entry.shape[1] !== model.config.projectionDim) {
      throw new ClipClassifierCacheError(`classifier cache ${cacheUri} holds no [${classNames.length}, ${model.config.projectionDim}] text_embeddings tensor; delete it to recompute`);
    }
    textEmbeddings = tf.tensor2d(entry.data, [classNames.length, model.config.projectionDim]);
    fromCache = true;
    log(`text classifier: ${classNames.length} classes read from the cache ${cacheUri}`);
  } else {
    textEmbeddings = await textClassifier(model, tokenizer, classNames, templatesFor(mode), options.batchSize ?? 256, log, options.encoder ?? encodePromptBatches);
    if (store && cacheUri) {
      const bytes = writeSafetensors({ text_embeddings: { shape: textEmbeddings.shape, data: textEmbeddings.dataSync() as Float32Array } }, { mode, classes: String(classNames.length) });
      await store.put(cacheUri, bytes);
      log(`text classifier: cached at ${cacheUri}`);
    }
  }
  // t·P with P = visual_projection.weight [projectionDim, visionHidden]: back into the space of f.
  const weights = tf.tidy(() => l2NormalizeRows(tf.matMul(textEmbeddings, model.visualProjection)));
  return { weights, textEmbeddings, cacheUri, fromCache };
}
