/**
 * The procedural world of coloured shapes: classes, rendering, captions, labelled image sets
 * and the long-tailed dataset generator (see docs/procedural.md).
 */
export * from './world';
export { renderImage, insideShape, type RenderOptions } from './render';
export { captionFor, describeSpec, fillFrame, WORLD_CAPTION_FRAMES, CLASS_PLACEHOLDER, type CaptionOptions } from './captions';
export { applyDomain, isDomainName, DOMAINS, DOMAIN_NAMES, type DomainName, type ColourCast } from './domain';
export { createRng, mixSeed32, shuffleInPlace, type Rng } from '../common/random';
export { renderClassImage, renderBalancedSet, toClipPixels, CLIP_MEAN, CLIP_STD, STREAM, type LabelledImages } from './samples';
export {
  generateProceduralDataset,
  longTailCounts,
  MINI_CLIP_FIXTURE,
  DEFAULT_IMAGE_SIZE,
  ProceduralDatasetOptionsError,
  type ProceduralDataset,
  type ProceduralDatasetOptions,
} from './dataset';
