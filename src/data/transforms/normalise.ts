/**
 * From 8-bit pixels to the model's input: CLIP normalisation into float32 NHWC, with the
 * horizontal flip folded into the copy (mirroring the column index costs nothing here, and
 * keeps the flip exact and independent of the image library's operation order).
 */

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

/** ((v / 255) - mean_c) / std_c for every byte v, channel-major: one lookup per output value. */
const NORMALISED = Float32Array.from({ length: 3 * 256 }, (_, i) => {
  const channel = Math.floor(i / 256);
  return ((i % 256) / 255 - CLIP_MEAN[channel]!) / CLIP_STD[channel]!;
});

export class TransformWindowError extends Error {
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
  const lut = NORMALISED;
  const grey = raw.channels < 3;
  const stride = raw.width * raw.channels;
  let o = offset;
  for (let y = 0; y < size; y++) {
    const rowStart = (top + y) * stride;
    for (let x = 0; x < size; x++) {
      const column = flip ? left + size - 1 - x : left + x;
      const p = rowStart + column * raw.channels;
      const r = raw.data[p]!;
      const g = grey ? r : raw.data[p + 1]!;
      const b = grey ? r : raw.data[p + 2]!;
      out[o++] = lut[r]!;
      out[o++] = lut[256 + g]!;
      out[o++] = lut[512 + b]!;
    }
  }
}
