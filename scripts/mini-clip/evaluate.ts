/**
 * Zero-shot top-1 of a CLIP folder on held-out procedural images, through the real runtime:
 * src/clip's loader, tokenizer, prompt templates and zero-shot classifier. This is the
 * end-to-end check that towers, tokenizer, templates and projections are wired together right.
 */
import * as tf from '@tensorflow/tfjs';
import { loadClip, loadClipTokenizer, zeroShotClassifier, zeroShotLogits, type TemplateMode } from '../../src/clip';
import { renderBalancedSet, toClipPixels } from '../../src/procedural/samples';
import { CLASS_NAMES } from '../../src/procedural/world';

export interface ZeroShotEvaluationOptions {
  /** Held-out images per class (default 10). */
  perClass?: number;
  /** Seed of the held-out images (default 0; the held-out stream never overlaps training). */
  seed?: number;
  /** Prompt set (default `ensemble60`, the 60 Appendix F templates). */
  templates?: TemplateMode;
  /** Images per vision-tower call (default 128). */
  batchSize?: number;
}

export interface ZeroShotEvaluation {
  accuracy: number;
  /** 1 / number of classes. */
  chance: number;
  classes: number;
  images: number;
  /** Top-1 accuracy per class, in class order. */
  perClassAccuracy: number[];
}

export async function evaluateZeroShot(folder: string, options: ZeroShotEvaluationOptions = {}): Promise<ZeroShotEvaluation> {
  const model = await loadClip(folder);
  const tokenizer = await loadClipTokenizer(folder);
  const size = model.config.vision.imageSize;
  const set = renderBalancedSet(options.perClass ?? 10, size, options.seed ?? 0);
  const classifier = await zeroShotClassifier(model, tokenizer, CLASS_NAMES, { templates: options.templates ?? 'ensemble60', cacheDir: null });
  const batchSize = options.batchSize ?? 128;
  const predictions: number[] = [];
  for (let start = 0; start < set.images.length; start += batchSize) {
    const images = set.images.slice(start, start + batchSize);
    const predicted = tf.tidy(() => {
      const pixels = tf.tensor4d(toClipPixels(images, size), [images.length, size, size, 3]);
      return tf.argMax(zeroShotLogits(model, model.encodeImageFeatures(pixels), classifier.textEmbeddings), 1).dataSync();
    });
    predictions.push(...predicted);
  }
  classifier.weights.dispose();
  classifier.textEmbeddings.dispose();
  model.dispose();
  const correct = new Array<number>(CLASS_NAMES.length).fill(0);
  const total = new Array<number>(CLASS_NAMES.length).fill(0);
  set.labels.forEach((label, i) => {
    total[label] = (total[label] as number) + 1;
    if (predictions[i] === label) correct[label] = (correct[label] as number) + 1;
  });
  const hits = correct.reduce((a, b) => a + b, 0);
  return {
    accuracy: hits / set.labels.length,
    chance: 1 / CLASS_NAMES.length,
    classes: CLASS_NAMES.length,
    images: set.labels.length,
    perClassAccuracy: correct.map((c, i) => c / Math.max(1, total[i] as number)),
  };
}
