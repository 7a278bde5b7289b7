/**
 * Bilinear enlargement in JS, fused with the crop window, the flip and CLIP normalisation.
 * libvips enlarges through its general affine transform, which costs 2-3 ms for a crop smaller
 * than 224 pixels (a third of SPEC's random resized crops of a 500×375 image, and every CIFAR
 * image); two taps per axis here cost less than that even in JS. Reductions stay in libvips
 * (antialiased, SIMD).
 *
 * The weights are PIL's BILINEAR when enlarging (torchvision's resize): the output pixel i of a
 * resize from `inSize` to `outSize` samples the source at (i + 0.5) · inSize/outSize - 0.5, the
 * two nearest pixels weighted by distance, clamped to the edge pixels.
 */
import type { Size } from './geometry';
import { NORMALISE_SCALE, NORMALISE_SHIFT, TransformWindowError, type NormalisedCrop, type RawImage } from './normalise';

/** Per output position: the first source index (times `stride`), the second one, and the second's weight. */
interface AxisTaps {
  first: Int32Array;
  second: Int32Array;
  weight: Float32Array;
}

/**
 * Taps of `count` output positions from `start` of a bilinear resize from `inSize` to `outSize`
 * (`outSize >= inSize`; equal sizes give the identity). Indices are multiplied by `stride`.
 */
function axisTaps(inSize: number, outSize: number, start: number, count: number, stride: number): AxisTaps {
  const first = new Int32Array(count);
  const second = new Int32Array(count);
  const weight = new Float32Array(count);
  const scale = inSize / outSize;
  for (let i = 0; i < count; i++) {
    const position = (start + i + 0.5) * scale - 0.5;
    let lower = Math.floor(position);
    let fraction = position - lower;
    if (lower < 0) {
      lower = 0;
      fraction = 0;
    } else if (lower >= inSize - 1) {
      lower = inSize - 1;
      fraction = 0;
    }
    first[i] = lower * stride;
    second[i] = Math.min(lower + 1, inSize - 1) * stride;
    weight[i] = fraction;
  }
  return { first, second, weight };
}

/** Scratch rows of the horizontal pass, kept between calls (one transform at a time per thread). */
let scratch = new Float32Array(0);

/**
 * Writes the `crop` window of `raw` enlarged to `target` (each side of `raw` at most the target's)
 * into `out[offset ..]` as normalised [size, size, 3] floats, mirrored when `crop.flip`.
 * Grey images are replicated to RGB; a fourth (alpha) channel is ignored.
 */
export function writeEnlargedCrop(raw: RawImage, target: Size, crop: NormalisedCrop, out: Float32Array, offset: number): void {
  const { left, top, size, flip } = crop;
  if (raw.width > target.width || raw.height > target.height) {
    throw new TransformWindowError(`a ${raw.width}x${raw.height} image cannot be enlarged to ${target.width}x${target.height}`);
  }
  if (left < 0 || top < 0 || left + size > target.width || top + size > target.height) {
    throw new TransformWindowError(`crop ${size}x${size} at (${left}, ${top}) does not fit a ${target.width}x${target.height} image`);
  }
  if (raw.channels < 1 || raw.channels > 4) throw new TransformWindowError(`expected 1 to 4 channels per pixel, got ${raw.channels}`);
  const { data, channels } = raw;
  const green = channels < 3 ? 0 : 1;
  const blue = channels < 3 ? 0 : 2;
  const rowFloats = size * 3;
  const columns = axisTaps(raw.width, target.width, left, size, channels);
  const rows = axisTaps(raw.height, target.height, top, size, rowFloats);
  // Pass 1, along x: the window's columns of every source row the window touches, as floats
  // (mirrored here when flipped). Pass 2, along y: two of those rows per output row, normalised.
  const firstRow = rows.first[0]! / rowFloats;
  const lastRow = rows.second[size - 1]! / rowFloats;
  const needed = (lastRow - firstRow + 1) * rowFloats;
  if (scratch.length < needed) scratch = new Float32Array(needed);
  const across = scratch;
  let t = 0;
  for (let row = firstRow; row <= lastRow; row++) {
    const rowStart = row * raw.width * channels;
    for (let x = 0; x < size; x++) {
      const column = flip ? size - 1 - x : x;
      const p = rowStart + columns.first[column]!;
      const q = rowStart + columns.second[column]!;
      const fx = columns.weight[column]!;
      const r = data[p]!;
      const g = data[p + green]!;
      const b = data[p + blue]!;
      across[t] = r + fx * (data[q]! - r);
      across[t + 1] = g + fx * (data[q + green]! - g);
      across[t + 2] = b + fx * (data[q + blue]! - b);
      t += 3;
    }
  }
  const [scaleR, scaleG, scaleB] = NORMALISE_SCALE;
  const [shiftR, shiftG, shiftB] = NORMALISE_SHIFT;
  const base = firstRow * rowFloats;
  let o = offset;
  for (let y = 0; y < size; y++) {
    const upper = rows.first[y]! - base;
    const lower = rows.second[y]! - base;
    const fy = rows.weight[y]!;
    for (let i = 0; i < rowFloats; i += 3) {
      const r = across[upper + i]!;
      const g = across[upper + i + 1]!;
      const b = across[upper + i + 2]!;
      out[o] = (r + fy * (across[lower + i]! - r)) * scaleR + shiftR;
      out[o + 1] = (g + fy * (across[lower + i + 1]! - g)) * scaleG + shiftG;
      out[o + 2] = (b + fy * (across[lower + i + 2]! - b)) * scaleB + shiftB;
      o += 3;
    }
  }
}
