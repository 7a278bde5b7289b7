/**
 * Decodes one encoded image and applies SPEC's train, test or five-crop transform with sharp
 * (libvips): sharp decodes, crops and reduces (bilinear, antialiased), then one JS pass over the
 * 8-bit pixels cuts the window, flips and CLIP-normalises (normalise.ts), enlarging bilinearly on
 * the way where the crop was smaller than the model's input (enlarge.ts).
 */
import sharp from 'sharp';
import type { TransformKind } from '../../contracts/batches';
import { createRng } from '../../common/random';
import { encodedImageSize } from './image-header';
import { writeEnlargedCrop } from './enlarge';
import { centreCrop, fiveCrops, sampleResizedCrop, shorterSideResize, testResizeSide, tteResizeSide, type CropBox, type ResizedCropOptions, type Size } from './geometry';
import { writeNormalisedCrop, type NormalisedCrop, type RawImage } from './normalise';

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

// libvips' triangle filter, only ever asked to reduce here: an area-aware (antialiased) bilinear,
// like PIL's BILINEAR that torchvision uses.
const RESIZE = { kernel: 'linear', fit: 'fill' } as const;

/** The pipeline's 8-bit sRGB pixels; `expected` is the size the transform asked for. */
async function toRaw(pipeline: sharp.Sharp, expected: Size): Promise<RawImage> {
  const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  // A guard for the JS header reader: a size libvips disagrees with must not go unnoticed.
  if (info.width !== expected.width || info.height !== expected.height) {
    throw new Error(`the decoded image is ${info.width}x${info.height} pixels, expected ${expected.width}x${expected.height}`);
  }
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** The stored size: read from a JPEG or PNG header in JS, else from libvips. */
async function sourceSize(bytes: Uint8Array, image: sharp.Sharp): Promise<Size> {
  const fromHeader = encodedImageSize(bytes);
  if (fromHeader) return fromHeader;
  const meta = await image.metadata();
  if (!meta.width || !meta.height) throw new Error('the image header has no width or height');
  return { width: meta.width, height: meta.height };
}

/**
 * What one item's transform does: resize `region` of the source to `resized`, then cut the
 * square `windows` (flipped or not) out of the result.
 */
interface TransformPlan {
  region: CropBox;
  resized: Size;
  windows: NormalisedCrop[];
}

function planTransform(source: Size, request: TransformRequest): TransformPlan {
  const { kind, size } = request;
  if (kind === 'train') {
    const rng = createRng(request.seed);
    const region = sampleResizedCrop(source, rng, request.crop);
    const flip = rng.next() < 0.5;
    return { region, resized: { width: size, height: size }, windows: [{ left: 0, top: 0, size, flip }] };
  }
  const resized = shorterSideResize(source, kind === 'test' ? testResizeSide(size) : tteResizeSide(size));
  const boxes = kind === 'test' ? [centreCrop(resized, size)] : fiveCrops(resized, size);
  return { region: { left: 0, top: 0, ...source }, resized, windows: boxes.map((box) => ({ left: box.left, top: box.top, size, flip: false })) };
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
  const source = await sourceSize(bytes, image);
  const { region, resized, windows } = planTransform(source, request);
  // libvips decodes, crops and reduces (antialiased); an axis that grows is left to
  // writeEnlargedCrop, which is cheaper than libvips' affine enlargement.
  const reduced = { width: Math.min(region.width, resized.width), height: Math.min(region.height, resized.height) };
  const enlarged = reduced.width !== resized.width || reduced.height !== resized.height;
  let pipeline = image;
  if (region.width !== source.width || region.height !== source.height) pipeline = pipeline.extract(region);
  if (reduced.width !== region.width || reduced.height !== region.height) pipeline = pipeline.resize(reduced.width, reduced.height, RESIZE);
  const stride = size * size * 3;
  const only = windows.length === 1 ? windows[0]! : undefined;
  if (only && !enlarged && (reduced.width > size || reduced.height > size)) {
    // One window of a reduced image (the test transform): libvips then resizes, and decodes,
    // only what the window needs.
    const raw = await toRaw(pipeline.extract({ left: only.left, top: only.top, width: size, height: size }), { width: size, height: size });
    writeNormalisedCrop(raw, { ...only, left: 0, top: 0 }, target, offset);
    return target;
  }
  const raw = await toRaw(pipeline, reduced);
  windows.forEach((window, crop) => {
    if (enlarged) writeEnlargedCrop(raw, resized, window, target, offset + crop * stride);
    else writeNormalisedCrop(raw, window, target, offset + crop * stride);
  });
  return target;
}
