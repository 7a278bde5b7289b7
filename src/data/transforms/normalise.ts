/**
 * From 8-bit pixels to the model's input: CLIP normalisation into float32 NHWC, with the
 * horizontal flip folded into the copy (mirroring the column index costs nothing here, and
 * keeps the flip exact and independent of the image library's operation order).
 */
import { DataError } from '../../common/errors';

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** 8-bit pixels, row-major, `channels` interleaved values per pixel (1 = grey, 3 = RGB, 4 = RGBA). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface NormalisedCrop {
  /** Top-left corner of the square window in the raw image. */
  left: number;
  top: number;
  /** Side of the window (the model's image size). */
  size: number;
  /** Mirror left-right. */
  flip: boolean;
}

/** CLIP normalisation as `value · scale + shift` per channel, for values that are not whole bytes. */
export const NORMALISE_SCALE = [0, 1, 2].map((c) => 1 / (255 * CLIP_STD[c]!)) as [number, number, number];
export const NORMALISE_SHIFT = [0, 1, 2].map((c) => -CLIP_MEAN[c]! / CLIP_STD[c]!) as [number, number, number];

/** ((v / 255) - mean_c) / std_c for every byte v, one table per channel: one lookup per output value. */
function channelTable(channel: 0 | 1 | 2): Float32Array {
  return Float32Array.from({ length: 256 }, (_, v) => (v / 255 - CLIP_MEAN[channel]) / CLIP_STD[channel]);
}
const RED = channelTable(0);
const GREEN = channelTable(1);
const BLUE = channelTable(2);

export class TransformWindowError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'TransformWindowError';
  }
}

/**
 * Writes `((pixel / 255) - mean) / std` for a size×size window of `raw` into
 * `out[offset .. offset + size*size*3)`, laid out [size, size, 3]. Grey images are replicated
 * to RGB; a fourth (alpha) channel is ignored.
 */
export function writeNormalisedCrop(raw: RawImage, crop: NormalisedCrop, out: Float32Array, offset: number): void {
  const { left, top, size, flip } = crop;
  if (left < 0 || top < 0 || left + size > raw.width || top + size > raw.height) {
    throw new TransformWindowError(
      `crop ${size}x${size} at (${left}, ${top}) does not fit a ${raw.width}x${raw.height} image`,
    );
  }
  if (raw.channels < 1 || raw.channels > 4) {
    throw new TransformWindowError(`expected 1 to 4 channels per pixel, got ${raw.channels}`);
  }
  const { data, channels } = raw;
  // Grey reads its one value three times; RGB(A) reads the next two bytes of the pixel.
  const green = channels < 3 ? 0 : 1;
  const blue = channels < 3 ? 0 : 2;
  // The flip is a walk right-to-left along each source row, so the loop has no per-pixel branch.
  const step = flip ? -channels : channels;
  const firstColumn = flip ? left + size - 1 : left;
  const rowStride = raw.width * channels;
  let o = offset;
  for (let y = 0; y < size; y++) {
    let p = (top + y) * rowStride + firstColumn * channels;
    for (let x = 0; x < size; x++) {
      out[o] = RED[data[p]!]!;
      out[o + 1] = GREEN[data[p + green]!]!;
      out[o + 2] = BLUE[data[p + blue]!]!;
      o += 3;
      p += step;
    }
  }
}
