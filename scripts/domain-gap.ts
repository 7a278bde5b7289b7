/**
 * How much a downstream fine-tune can win over zero-shot on the mini-CLIP, per domain of the
 * procedural world: zero-shot top-1 against a linear probe (cosine classifier, scale 25,
 * cross-entropy, full-batch Adam from W^zs) trained on the frozen image features of a balanced
 * labelled set. A probe no better than zero-shot means the frozen features hold nothing the
 * text classifier has not already used (docs/procedural.md, "Domains").
 *
 *   npx tsx scripts/domain-gap.ts [--classes 36] [--train-per-class 100] [--test-per-class 20]
 */
import * as tf from '@tensorflow/tfjs';
import { Command, InvalidArgumentError } from 'commander';
import { initBackend, loadClip, loadClipTokenizer, zeroShotClassifier, zeroShotLogits } from '../src/clip';
import { MINI_CLIP_FIXTURE } from '../src/procedural/dataset';
import { DOMAIN_NAMES, type DomainName } from '../src/procedural/domain';
import { renderClassImage, STREAM, toClipPixels } from '../src/procedural/samples';
import { CLASS_NAMES } from '../src/procedural/world';

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return parsed;
}

const options = new Command()
  .name('domain-gap')
  .description('Zero-shot vs a linear probe on frozen mini-CLIP features, in each procedural domain.')
  .option('--weights <dir>', 'CLIP folder', MINI_CLIP_FIXTURE)
  .option('--classes <n>', 'first N classes of the world', positive, 36)
  .option('--train-per-class <n>', 'probe training images a class', positive, 100)
  .option('--test-per-class <n>', 'test images a class', positive, 20)
  .option('--steps <n>', 'probe optimisation steps', positive, 1500)
  .parse()
  .opts<{ weights: string; classes: number; trainPerClass: number; testPerClass: number; steps: number }>();

await initBackend({ backend: 'wasm', log: (line) => process.stderr.write(`${line}\n`) });
const clip = await loadClip(options.weights);
const tokenizer = await loadClipTokenizer(options.weights);
const size = clip.config.vision.imageSize;
const classNames = CLASS_NAMES.slice(0, options.classes);
const classifier = await zeroShotClassifier(clip, tokenizer, classNames, { cacheDir: null });

/** Frozen features f `[n, d]` and labels of `perClass` images a class. */
function featuresOf(perClass: number, stream: number, domain: DomainName): { features: tf.Tensor2D; labels: number[] } {
  const labels: number[] = [];
  const chunks: tf.Tensor2D[] = [];
  let batch: Uint8Array[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    const images = batch;
    chunks.push(tf.tidy(() => clip.encodeImageFeatures(tf.tensor4d(toClipPixels(images, size), [images.length, size, size, 3]))));
    batch = [];
  };
  classNames.forEach((_, label) => {
    for (let i = 0; i < perClass; i++) {
      batch.push(renderClassImage(label, i, size, 0, stream, domain));
      labels.push(label);
      if (batch.length === 256) flush();
    }
  });
  flush();
  const features = tf.concat(chunks) as tf.Tensor2D;
  chunks.forEach((chunk) => chunk.dispose());
  return { features, labels };
}

function top1(logits: tf.Tensor2D, labels: readonly number[]): number {
  const predicted = tf.tidy(() => tf.argMax(logits, 1).dataSync());
  return labels.filter((label, i) => predicted[i] === label).length / labels.length;
}

const unit = (x: tf.Tensor2D): tf.Tensor2D => tf.div(x, tf.norm(x, 'euclidean', 1, true));

const rows: string[] = [];
for (const domain of DOMAIN_NAMES) {
  const train = featuresOf(options.trainPerClass, STREAM.datasetTrain, domain);
  const test = featuresOf(options.testPerClass, STREAM.datasetTest, domain);
  const zeroShot = top1(tf.tidy(() => zeroShotLogits(clip, test.features, classifier.textEmbeddings)), test.labels);
  const weights = tf.variable(classifier.weights.clone());
  const optimizer = tf.train.adam(0.01);
  const oneHot = tf.oneHot(tf.tensor1d(train.labels, 'int32'), classNames.length);
  const trainUnit = unit(train.features);
  for (let step = 0; step < options.steps; step++) {
    optimizer.minimize(() => tf.losses.softmaxCrossEntropy(oneHot, tf.mul(25, tf.matMul(trainUnit, unit(weights as tf.Tensor2D), false, true))));
  }
  const probe = top1(tf.tidy(() => tf.matMul(unit(test.features), unit(weights as tf.Tensor2D), false, true)), test.labels);
  const probeTrain = top1(tf.tidy(() => tf.matMul(trainUnit, unit(weights as tf.Tensor2D), false, true)), train.labels);
  rows.push(`| ${domain} | ${(100 * zeroShot).toFixed(1)} | ${(100 * probe).toFixed(1)} | ${(100 * probeTrain).toFixed(1)} |`);
  [train.features, test.features, weights, oneHot, trainUnit].forEach((t) => t.dispose());
  optimizer.dispose();
}
console.log(`${classNames.length} classes, probe on ${options.trainPerClass} images a class, tested on ${options.testPerClass} a class (top-1 %)\n`);
console.log('| domain | zero-shot | linear probe (test) | linear probe (train) |\n|---|---:|---:|---:|');
console.log(rows.join('\n'));
