/**
 * Decodes one encoded image and applies SPEC's train, test or five-crop transform with sharp
 * (libvips): sharp does the decode and the bilinear resize, then the crop window, flip and
 * CLIP normalisation are done in one pass over the 8-bit pixels (normalise.ts).
 */
import sharp from 'sharp';
import type { TransformKind } from '../../contracts/batches';
import { createRng } from '../rng';
import { centreCrop, fiveCrops, sampleResizedCrop, shorterSideResize, testResizeSide, tteResizeSide, type ResizedCropOptions, type Size } from './geometry';
import { writeNormalisedCrop, type RawImage } from './normalise';

export interface TransformRequest {
  kind: TransformKind;
  /** The model's image size S. */
  size: number;
  /** Seed of this item's augmentation draws (train only): derive it from (seed, epoch, item index). */
  seed: number;
  /** Random-resized-crop ranges (train only); SPEC's defaults when absent. */
  crop?: ResizedCropOptions;
}

/** Crops per item for a transform: five for the test-time ensemble, else one. */
export function cropsFor(kind: TransformKind): number {
  return kind === 'tte' ? 5 : 1;
}

/** Floats one transformed item occupies in a batch: crops × S × S × 3. */
export function floatsPerItem(kind: TransformKind, size: number): number {
  return cropsFor(kind) * size * size * 3;
}

// libvips' triangle filter: bilinear when enlarging, and an area-aware (antialiased) bilinear
// when reducing, like PIL's BILINEAR that torchvision uses.
const RESIZE = { kernel: 'linear', fit: 'fill' } as const;

async function toRaw(pipeline: sharp.Sharp): Promise<RawImage> {
  const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

async function sourceSize(image: sharp.Sharp): Promise<Size> {
  const meta = await image.metadata();
  if (!meta.width || !meta.height) throw new Error('the image header has no width or height');
  return { width: meta.width, height: meta.height };
}

/**
 * The transformed item as `[crops, S, S, 3]` floats written into `out` at `offset`
 * (a fresh array when `out` is absent). Throws whatever the decoder throws for a corrupt image.
 */
export async function transformImage(bytes: Uint8Array, request: TransformRequest, out?: Float32Array, offset = 0): Promise<Float32Array> {
  const { kind, size } = request;
  const target = out ?? new Float32Array(floatsPerItem(kind, size));
  // Fail on truncated or undecodable images (as PIL does), not on libjpeg's benign warnings
  // ("extraneous bytes"), which a few ImageNet files trigger.
  const image = sharp(bytes, { failOn: 'truncated' });
  const source = await sourceSize(image);
  if (kind === 'train') {
    const rng = createRng(request.seed);
    const box = sampleResizedCrop(source, rng, request.crop);
    const flip = rng() < 0.5;
    const raw = await toRaw(image.extract(box).resize(size, size, RESIZE));
    writeNormalisedCrop(raw, { left: 0, top: 0, size, flip }, target, offset);
    return target;
  }
  const resized = shorterSideResize(source, kind === 'test' ? testResizeSide(size) : tteResizeSide(size));
  const raw = await toRaw(image.resize(resized.width, resized.height, RESIZE));
  const windows = kind === 'test' ? [centreCrop(resized, size)] : fiveCrops(resized, size);
  const stride = size * size * 3;
  windows.forEach((box, crop) => writeNormalisedCrop(raw, { left: box.left, top: box.top, size, flip: false }, target, offset + crop * stride));
  return target;
}
