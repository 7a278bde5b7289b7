import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/random';
import { transformImage } from '../../src/data/transforms/apply';
import {
  centreCrop,
  fiveCrops,
  roundHalfEven,
  sampleResizedCrop,
  shorterSideResize,
  testResizeSide,
  tteResizeSide,
} from '../../src/data/transforms/geometry';
import { writeEnlargedCrop } from '../../src/data/transforms/enlarge';
import { writeNormalisedCrop } from '../../src/data/transforms/normalise';

const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];
const normalised = (value: number, channel: number): number => (value / 255 - MEAN[channel]!) / STD[channel]!;

/** A lossless RGB image whose pixel (x, y) is (3x mod 256, 5y mod 256, (x + 2y) mod 256). */
function gradientPixel(x: number, y: number): [number, number, number] {
  return [(3 * x) % 256, (5 * y) % 256, (x + 2 * y) % 256];
}
async function gradientPng(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.set(gradientPixel(x, y), (y * width + x) * 3);
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** Pixel (x, y, c) of a [crops, S, S, 3] float array. */
const at = (out: Float32Array, size: number, crop: number, x: number, y: number, c: number): number => out[((crop * size + y) * size + x) * 3 + c]!;

describe('transform geometry', () => {
  it('rounds halves to even like Python', () => {
    expect([0.5, 1.5, 2.5, 2.4, 2.6, -1.5].map(roundHalfEven)).toEqual([0, 2, 2, 2, 3, -2]);
  });

  it('scales the 256 and 248 resize targets with the image size', () => {
    expect(testResizeSide(224)).toBe(256);
    expect(tteResizeSide(224)).toBe(248);
    expect(testResizeSide(32)).toBe(37); // 36.57
    expect(tteResizeSide(32)).toBe(35); // 35.43
  });

  it('resizes the shorter side and truncates the longer one like torchvision', () => {
    expect(shorterSideResize({ width: 500, height: 375 }, 256)).toEqual({ width: 341, height: 256 });
    expect(shorterSideResize({ width: 375, height: 500 }, 256)).toEqual({ width: 256, height: 341 });
  });

  it('centres crops with half-to-even offsets and orders five crops as torchvision does', () => {
    expect(centreCrop({ width: 341, height: 256 }, 224)).toEqual({ left: 58, top: 16, width: 224, height: 224 }); // 58.5 → 58
    const boxes = fiveCrops({ width: 40, height: 35 }, 32);
    expect(boxes.map((b) => [b.left, b.top])).toEqual([[0, 0], [8, 0], [0, 3], [8, 3], [4, 2]]);
  });

  it('draws random resized crops inside the image with area and aspect in range', () => {
    const rng = createRng(7);
    const source = { width: 500, height: 375 };
    let logRatioSum = 0;
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const box = sampleResizedCrop(source, rng);
      expect(box.left).toBeGreaterThanOrEqual(0);
      expect(box.top).toBeGreaterThanOrEqual(0);
      expect(box.left + box.width).toBeLessThanOrEqual(500);
      expect(box.top + box.height).toBeLessThanOrEqual(375);
      const fraction = (box.width * box.height) / (500 * 375);
      expect(fraction).toBeGreaterThan(0.08 * 0.97);
      expect(fraction).toBeLessThanOrEqual(1);
      const ratio = box.width / box.height;
      expect(ratio).toBeGreaterThan((3 / 4) * 0.95);
      expect(ratio).toBeLessThan((4 / 3) * 1.05);
      logRatioSum += Math.log(ratio);
    }
    // Log-uniform in [log 3/4, log 4/3] is symmetric about 0 (accepted draws skew it only slightly).
    expect(Math.abs(logRatioSum / n)).toBeLessThan(0.03);
  });

  it('falls back to the largest centred crop within the ratio range for an extreme image', () => {
    // 400×10: no crop of at least 8% of the area fits with aspect ≤ 4/3, so all ten tries fail.
    const box = sampleResizedCrop({ width: 400, height: 10 }, createRng(1));
    expect(box).toEqual({ left: Math.floor((400 - 13) / 2), top: 0, width: 13, height: 10 });
  });
});

describe('CLIP normalisation', () => {
  it('normalises each channel by hand-computed mean and std, mirroring columns when flipped', () => {
    const raw = { data: Uint8Array.from([0, 128, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]), width: 2, height: 2, channels: 3 };
    const out = new Float32Array(12);
    writeNormalisedCrop(raw, { left: 0, top: 0, size: 2, flip: true }, out, 0);
    // Row 0 flipped: pixel (1,0) first, then (0,0).
    const expected = [10, 20, 30, 0, 128, 255, 70, 80, 90, 40, 50, 60].map((v, i) => normalised(v, i % 3));
    expected.forEach((value, i) => expect(out[i]).toBeCloseTo(value, 5));
  });

  it('replicates a grey channel to RGB', () => {
    const out = new Float32Array(3);
    writeNormalisedCrop({ data: Uint8Array.from([200]), width: 1, height: 1, channels: 1 }, { left: 0, top: 0, size: 1, flip: false }, out, 0);
    [0, 1, 2].forEach((c) => expect(out[c]).toBeCloseTo(normalised(200, c), 5));
  });

  it('refuses a window that does not fit the image, naming both sizes', () => {
    expect(() => writeNormalisedCrop({ data: new Uint8Array(12), width: 2, height: 2, channels: 3 }, { left: 1, top: 0, size: 2, flip: false }, new Float32Array(12), 0)).toThrow(
      /2x2 at \(1, 0\) does not fit a 2x2 image/,
    );
  });
});

/**
 * PIL BILINEAR when enlarging, by hand: output position i of a resize from `inSize` to `outSize`
 * samples the source at (i + 0.5)·in/out − 0.5, clamped to the edge pixels, between its two neighbours.
 */
function bilinearSample(i: number, inSize: number, outSize: number): { lo: number; hi: number; t: number } {
  const position = Math.min(Math.max((i + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
  const lo = Math.floor(position);
  return { lo, hi: Math.min(lo + 1, inSize - 1), t: position - lo };
}

/** The enlarged value of channel c at (x, y) of a `pixels[y][x][c]` image enlarged to outW×outH, by hand. */
function enlargedByHand(pixels: number[][][], outW: number, outH: number, x: number, y: number, c: number): number {
  const sx = bilinearSample(x, pixels[0]!.length, outW);
  const sy = bilinearSample(y, pixels.length, outH);
  const row = (r: number): number => pixels[r]![sx.lo]![c]! * (1 - sx.t) + pixels[r]![sx.hi]![c]! * sx.t;
  return row(sy.lo) * (1 - sy.t) + row(sy.hi) * sy.t;
}

describe('bilinear enlargement fused with crop, flip and normalisation', () => {
  const rgb = [
    [[10, 200, 30], [90, 20, 250], [255, 0, 128]],
    [[0, 60, 90], [180, 255, 5], [40, 130, 220]],
  ];
  const rawOf = (pixels: number[][][]) => ({ data: Uint8Array.from(pixels.flat(2)), width: pixels[0]!.length, height: pixels.length, channels: pixels[0]![0]!.length });

  it('matches PIL-style bilinear interpolation by hand for a window of a 3x2 image enlarged to 7x5, flipped or not', () => {
    for (const flip of [false, true]) {
      const out = new Float32Array(4 * 4 * 3);
      writeEnlargedCrop(rawOf(rgb), { width: 7, height: 5 }, { left: 2, top: 1, size: 4, flip }, out, 0);
      for (let v = 0; v < 4; v++) {
        for (let u = 0; u < 4; u++) {
          const x = 2 + (flip ? 3 - u : u);
          for (let c = 0; c < 3; c++) expect(out[(v * 4 + u) * 3 + c]).toBeCloseTo(normalised(enlargedByHand(rgb, 7, 5, x, 1 + v, c), c), 4);
        }
      }
    }
  });

  it('enlarges one axis only and replicates grey to RGB', () => {
    const grey = [[[0], [100]], [[50], [200]], [[250], [10]]]; // 2 wide, 3 high
    const out = new Float32Array(2 * 2 * 3);
    writeEnlargedCrop(rawOf(grey), { width: 2, height: 7 }, { left: 0, top: 4, size: 2, flip: false }, out, 0);
    for (let v = 0; v < 2; v++) {
      for (let u = 0; u < 2; u++) {
        const value = enlargedByHand(grey, 2, 7, u, 4 + v, 0);
        for (let c = 0; c < 3; c++) expect(out[(v * 2 + u) * 3 + c]).toBeCloseTo(normalised(value, c), 4);
      }
    }
  });

  it('refuses to shrink and refuses a window outside the enlarged image', () => {
    const out = new Float32Array(12);
    expect(() => writeEnlargedCrop(rawOf(rgb), { width: 2, height: 2 }, { left: 0, top: 0, size: 2, flip: false }, out, 0)).toThrow(/3x2 image cannot be enlarged to 2x2/);
    expect(() => writeEnlargedCrop(rawOf(rgb), { width: 4, height: 4 }, { left: 3, top: 0, size: 2, flip: false }, out, 0)).toThrow(/does not fit a 4x4 image/);
  });
});

describe('transformImage on a known gradient', () => {
  it('test transform: an image whose shorter side is already round(256/224·S) is centre-cropped exactly', async () => {
    const size = 32;
    const png = await gradientPng(50, 37); // shorter side 37 = testResizeSide(32): no resampling
    const out = await transformImage(png, { kind: 'test', size, seed: 0 });
    expect(out.length).toBe(size * size * 3);
    // Offsets: left = round((50 - 32) / 2) = 9, top = round((37 - 32) / 2) = round(2.5) = 2.
    for (const [x, y] of [[0, 0], [31, 0], [0, 31], [17, 12], [31, 31]] as const) {
      const pixel = gradientPixel(x + 9, y + 2);
      for (let c = 0; c < 3; c++) expect(at(out, size, 0, x, y, c)).toBeCloseTo(normalised(pixel[c]!, c), 4);
    }
  });

  it('five-crop transform: corners then centre of an image already at round(248/224·S)', async () => {
    const size = 32;
    const png = await gradientPng(35, 40); // shorter side 35 = tteResizeSide(32)
    const out = await transformImage(png, { kind: 'tte', size, seed: 0 });
    expect(out.length).toBe(5 * size * size * 3);
    const origins = [[0, 0], [3, 0], [0, 8], [3, 8], [roundHalfEven(1.5), 4]];
    origins.forEach(([left, top], crop) => {
      for (const [x, y] of [[0, 0], [31, 31], [5, 20]] as const) {
        const pixel = gradientPixel(x + left!, y + top!);
        for (let c = 0; c < 3; c++) expect(at(out, size, crop, x, y, c)).toBeCloseTo(normalised(pixel[c]!, c), 4);
      }
    });
  });

  it('test transform: a resize keeps a linear ramp linear (bilinear) at the resampled positions', async () => {
    // Horizontal ramp v = 2x on a 120×74 image; S = 32 → shorter side 37 (scale 1/2), width 60.
    const width = 120;
    const height = 74;
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.fill(2 * x, (y * width + x) * 3, (y * width + x) * 3 + 3);
    const png = await sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
    const size = 32;
    const out = await transformImage(png, { kind: 'test', size, seed: 0 });
    // Resized 60×37, centre crop left = 14. Output column u samples source x = (u + 14 + 0.5)·2 - 0.5.
    for (let u = 2; u < 30; u++) {
      const expected = 2 * ((u + 14 + 0.5) * 2 - 0.5);
      expect(at(out, size, 0, u, 10, 0)).toBeCloseTo(normalised(expected, 0), 1);
    }
  });

  it('train transform: the output is the seeded crop of the source, resized bilinearly and flipped by the seeded coin', async () => {
    const width = 200;
    const height = 150;
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.set([x, y, 100], (y * width + x) * 3);
    const png = await sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
    const size = 24;
    let flips = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const out = await transformImage(png, { kind: 'train', size, seed });
      // The crop and coin an independent reader of SPEC expects from this seed.
      const rng = createRng(seed);
      const box = sampleResizedCrop({ width, height }, rng);
      const flip = rng.next() < 0.5;
      if (flip) flips++;
      const sx = box.width / size;
      const sy = box.height / size;
      for (const u of [3, 12, 20]) {
        for (const v of [3, 12, 20]) {
          const column = flip ? size - 1 - u : u;
          const expectedX = box.left + (column + 0.5) * sx - 0.5;
          const expectedY = box.top + (v + 0.5) * sy - 0.5;
          expect(Math.abs(at(out, size, 0, u, v, 0) - normalised(expectedX, 0))).toBeLessThan(1.5 / (255 * STD[0]!));
          expect(Math.abs(at(out, size, 0, u, v, 1) - normalised(expectedY, 1))).toBeLessThan(1.5 / (255 * STD[1]!));
          expect(at(out, size, 0, u, v, 2)).toBeCloseTo(normalised(100, 2), 4);
        }
      }
    }
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(12);
  });

  /** A lossless image whose pixel (x, y) is (xScale·x, yScale·y, 100). */
  async function rampPng(width: number, height: number, xScale: number, yScale: number): Promise<Buffer> {
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.set([xScale * x, yScale * y, 100], (y * width + x) * 3);
    return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
  }

  /** Source coordinate of output position i when `extent` pixels from `start` are resized to `size` (clamped when enlarging). */
  const sourceAt = (i: number, start: number, extent: number, size: number): number => {
    const position = start + (i + 0.5) * (extent / size) - 0.5;
    return extent < size ? Math.min(Math.max(position, start), start + extent - 1) : position;
  };

  it('train transform: crops smaller than S are enlarged bilinearly, clamped at the crop edges, and a crop larger on one axis only is reduced on that axis', async () => {
    const width = 120;
    const height = 36;
    const png = await rampPng(width, height, 2, 7);
    const size = 32;
    const seen = { both: 0, mixed: 0 };
    for (let seed = 1; seed <= 24; seed++) {
      const out = await transformImage(png, { kind: 'train', size, seed });
      const rng = createRng(seed);
      const box = sampleResizedCrop({ width, height }, rng);
      const flip = rng.next() < 0.5;
      if (box.width < size && box.height < size) seen.both++;
      if (box.width > size && box.height < size) seen.mixed++;
      // Edges included where the axis is enlarged (exact there); inner samples where libvips reduces.
      const columns = box.width > size ? [4, 16, 27] : [0, 7, 20, 31];
      for (const u of columns) {
        for (const v of [0, 9, 21, 31]) {
          const column = flip ? size - 1 - u : u;
          const tolerance = (box.width > size ? 1.5 : 0.01) / (255 * STD[0]!);
          expect(Math.abs(at(out, size, 0, u, v, 0) - normalised(2 * sourceAt(column, box.left, box.width, size), 0))).toBeLessThan(tolerance);
          if (box.height < size) expect(Math.abs(at(out, size, 0, u, v, 1) - normalised(7 * sourceAt(v, box.top, box.height, size), 1))).toBeLessThan(0.01 / (255 * STD[1]!));
        }
      }
    }
    // The seeds exercised both paths.
    expect(seen.both).toBeGreaterThan(0);
    expect(seen.mixed).toBeGreaterThan(0);
  });

  it('test transform: an image smaller than round(256/224·S) is enlarged bilinearly before the centre crop', async () => {
    const png = await rampPng(20, 14, 10, 15);
    const size = 32;
    const out = await transformImage(png, { kind: 'test', size, seed: 0 });
    // Shorter side 14 → 37, width floor(37·20/14) = 52; centre crop left = round(10) = 10, top = round(2.5) = 2.
    for (const u of [0, 5, 16, 31]) {
      for (const v of [0, 11, 31]) {
        expect(at(out, size, 0, u, v, 0)).toBeCloseTo(normalised(10 * sourceAt(u + 10, 0, 20, 52), 0), 3);
        expect(at(out, size, 0, u, v, 1)).toBeCloseTo(normalised(15 * sourceAt(v + 2, 0, 14, 37), 1), 3);
      }
    }
  });

  it('rejects a truncated JPEG instead of filling its missing rows with grey', async () => {
    const raw = Buffer.alloc(64 * 48 * 3, 90);
    const jpeg = await sharp(raw, { raw: { width: 64, height: 48, channels: 3 } }).jpeg().toBuffer();
    await expect(transformImage(jpeg, { kind: 'test', size: 16, seed: 0 })).resolves.toHaveLength(16 * 16 * 3);
    await expect(transformImage(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), { kind: 'test', size: 16, seed: 0 })).rejects.toThrow();
  });

  it('rejects bytes that are not an image', async () => {
    await expect(transformImage(Buffer.from('not an image at all'), { kind: 'test', size: 8, seed: 0 })).rejects.toThrow();
  });
});
