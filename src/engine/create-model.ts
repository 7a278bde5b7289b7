/**
 * Builds a Sage model from a loaded CLIP: W^zs from the 60 templates when `init` is on,
 * else from the single template "a photo of a [cls]." (LIFT's default); the trainable W
 * starts equal to it, and FIT's frozen W^zs is that same classifier.
 */
import { zeroShotClassifier } from '../clip/classifier-init';
import type { ClipModel, ClipTokenizer } from '../clip/types';
import type { Settings } from '../contracts/settings';
import { buildSageModel, type SageModel } from './model';

export interface CreateSageModelOptions {
  clip: ClipModel;
  tokenizer: ClipTokenizer;
  classNames: readonly string[];
  settings: Settings;
  /** Cache folder (or s3:// prefix) for the text classifier; null disables it; default the CLIP cache. */
  cacheDir?: string | null;
}

export async function createSageModel(options: CreateSageModelOptions): Promise<SageModel> {
  const { clip, settings, classNames } = options;
  const zeroShot = await zeroShotClassifier(clip, options.tokenizer, classNames, {
    templates: settings.components.init ? 'ensemble60' : 'single',
    cacheDir: options.cacheDir,
  });
  try {
    return buildSageModel({ clip, settings, classNames, zeroShotWeights: zeroShot.weights, textEmbeddings: zeroShot.textEmbeddings });
  } finally {
    zeroShot.weights.dispose();
    zeroShot.textEmbeddings.dispose();
  }
}
