/**
 * Captions for procedural images: a prompt frame ("a photo of a [cls].") around a phrase that
 * always names the class ("red circle") and sometimes the nuisance factors ("small striped red
 * circle on a dark background"), so a contrastively trained text tower learns every attribute
 * word while the class words carry what stays constant.
 */
import type { Rng } from '../common/random';
import { LARGE_ABOVE, SMALL_BELOW, type ShapeSpec } from './world';

/** Placeholder for the phrase inside a frame, as in the paper's Appendix F. */
export const CLASS_PLACEHOLDER = '[cls]';

/** Frames of the world's own, in the style of Appendix F (the trainer adds the 60 templates to these). */
export const WORLD_CAPTION_FRAMES: readonly string[] = [
  'a [cls].',
  'an image of a [cls].',
  'a picture of the [cls].',
  'a simple drawing of a [cls].',
  'a clip art [cls].',
  'there is a [cls] in the picture.',
  'a small picture of one [cls].',
  'a computer graphic of the [cls].',
];

export interface CaptionOptions {
  /** Probability of naming the texture when it is not plain (default 0.4). */
  textureProbability?: number;
  /** Probability of naming the background (default 0.25). */
  backgroundProbability?: number;
  /** Probability of naming the size when the shape is clearly small or large (default 0.25). */
  sizeProbability?: number;
}

/** The phrase that describes an image: optional size and texture, the class, optional background. */
export function describeSpec(spec: ShapeSpec, rng: Rng, options: CaptionOptions = {}): string {
  const words: string[] = [];
  const sizeWord = spec.radius < SMALL_BELOW ? 'small' : spec.radius > LARGE_ABOVE ? 'large' : undefined;
  // Draw every coin every time so the random stream advances the same way whatever the outcome.
  const sayTexture = rng.next() < (options.textureProbability ?? 0.4);
  const sayBackground = rng.next() < (options.backgroundProbability ?? 0.25);
  const saySize = rng.next() < (options.sizeProbability ?? 0.25);
  if (saySize && sizeWord) words.push(sizeWord);
  if (sayTexture && spec.texture !== 'plain') words.push(spec.texture);
  words.push(spec.colour, spec.shape);
  if (sayBackground) words.push('on', 'a', spec.background, 'background');
  return words.join(' ');
}

/** Replaces the placeholder in a frame; a frame without one is a configuration error. */
export function fillFrame(frame: string, phrase: string): string {
  if (!frame.includes(CLASS_PLACEHOLDER)) {
    throw new RangeError(`caption frame "${frame}" has no ${CLASS_PLACEHOLDER} placeholder`);
  }
  return frame.replace(CLASS_PLACEHOLDER, phrase);
}

/** One caption for an image: a random frame around its phrase. */
export function captionFor(spec: ShapeSpec, rng: Rng, frames: readonly string[], options: CaptionOptions = {}): string {
  const frame = rng.pick(frames);
  return fillFrame(frame, describeSpec(spec, rng, options));
}
