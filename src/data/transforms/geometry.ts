/**
 * The geometry of SPEC's transforms, as pure functions of image size and random draws, so it can
 * be tested without decoding an image. Rounding follows torchvision (which the paper's numbers
 * were produced with): Python's round-half-to-even for crop offsets, truncation for the long side
 * of a shorter-side resize.
 */
import type { Rng } from '../../common/random';

/** A rectangle in pixel coordinates of the source image. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Size {
  width: number;
  height: number;
}

/** SPEC sizes are for a 224 model; these are the 224-model values, scaled by S/224. */
export const REFERENCE_SIZE = 224;
export const TEST_RESIZE_AT_224 = 256;
export const TTE_RESIZE_AT_224 = 248;

/** Python 3's round(): halves go to the even neighbour. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The shorter-side target of the test transform for a model of image size S: round(256/224·S). */
export function testResizeSide(imageSize: number): number {
  return roundHalfEven((TEST_RESIZE_AT_224 / REFERENCE_SIZE) * imageSize);
}

/** The shorter-side target of the five-crop ensemble: round(248/224·S). */
export function tteResizeSide(imageSize: number): number {
  return roundHalfEven((TTE_RESIZE_AT_224 / REFERENCE_SIZE) * imageSize);
}

/** torchvision Resize(int): the shorter side becomes `side`, the longer keeps the aspect (truncated). */
export function shorterSideResize(source: Size, side: number): Size {
  if (source.width <= source.height) {
    return { width: side, height: Math.floor((side * source.height) / source.width) };
  }
  return { width: Math.floor((side * source.width) / source.height), height: side };
}

/** torchvision CenterCrop offsets: round((extent - crop) / 2). */
export function centreCrop(source: Size, crop: number): CropBox {
  return {
    left: roundHalfEven((source.width - crop) / 2),
    top: roundHalfEven((source.height - crop) / 2),
    width: crop,
    height: crop,
  };
}

/** torchvision FiveCrop order: top-left, top-right, bottom-left, bottom-right, centre. */
export function fiveCrops(source: Size, crop: number): CropBox[] {
  const right = source.width - crop;
  const bottom = source.height - crop;
  return [
    { left: 0, top: 0, width: crop, height: crop },
    { left: right, top: 0, width: crop, height: crop },
    { left: 0, top: bottom, width: crop, height: crop },
    { left: right, top: bottom, width: crop, height: crop },
    centreCrop(source, crop),
  ];
}

export interface ResizedCropOptions {
  /** Fraction of the image area the crop covers; default [0.08, 1]. */
  scale?: readonly [number, number];
  /** Width/height ratio, sampled uniformly in log space; default [3/4, 4/3]. */
  ratio?: readonly [number, number];
}

export const DEFAULT_CROP_SCALE = [0.08, 1] as const;
export const DEFAULT_CROP_RATIO = [3 / 4, 4 / 3] as const;

/**
 * torchvision RandomResizedCrop.get_params: ten tries at an area fraction and a log-uniform
 * aspect ratio that fit inside the image, else the largest centred crop within the ratio range.
 */
export function sampleResizedCrop(source: Size, rng: Rng, options: ResizedCropOptions = {}): CropBox {
  const [scaleLow, scaleHigh] = options.scale ?? DEFAULT_CROP_SCALE;
  const [ratioLow, ratioHigh] = options.ratio ?? DEFAULT_CROP_RATIO;
  const { width, height } = source;
  const area = width * height;
  const logRatioLow = Math.log(ratioLow);
  const logRatioHigh = Math.log(ratioHigh);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scaleLow, scaleHigh);
    const aspect = Math.exp(rng.uniform(logRatioLow, logRatioHigh));
    const cropWidth = roundHalfEven(Math.sqrt(targetArea * aspect));
    const cropHeight = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (cropWidth > 0 && cropWidth <= width && cropHeight > 0 && cropHeight <= height) {
      return {
        top: rng.int(height - cropHeight + 1),
        left: rng.int(width - cropWidth + 1),
        width: cropWidth,
        height: cropHeight,
      };
    }
  }
  const sourceRatio = width / height;
  let cropWidth = width;
  let cropHeight = height;
  if (sourceRatio < ratioLow) cropHeight = roundHalfEven(width / ratioLow);
  else if (sourceRatio > ratioHigh) cropWidth = roundHalfEven(height * ratioHigh);
  return {
    left: Math.floor((width - cropWidth) / 2),
    top: Math.floor((height - cropHeight) / 2),
    width: cropWidth,
    height: cropHeight,
  };
}
