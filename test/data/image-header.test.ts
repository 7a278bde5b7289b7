import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodedImageSize } from '../../src/data/transforms/image-header';

const noise = (width: number, height: number, channels: 1 | 3): Buffer => Buffer.from(Array.from({ length: width * height * channels }, (_, i) => (i * 37) % 256));

async function sharpSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes).metadata();
  return { width: meta.width, height: meta.height };
}

describe('encodedImageSize', () => {
  it('reads the frame size of baseline, progressive, grey and EXIF-tagged JPEGs as libvips does', async () => {
    const images = [
      await sharp(noise(37, 23, 3), { raw: { width: 37, height: 23, channels: 3 } }).jpeg().toBuffer(),
      await sharp(noise(300, 41, 3), { raw: { width: 300, height: 41, channels: 3 } }).jpeg({ progressive: true }).toBuffer(),
      await sharp(noise(16, 64, 1), { raw: { width: 16, height: 64, channels: 1 } }).jpeg().toBuffer(),
      // Orientation 6 (rotate 90°) in an EXIF segment before the frame: the stored size is what counts.
      await sharp(noise(50, 20, 3), { raw: { width: 50, height: 20, channels: 3 } }).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
    ];
    for (const jpeg of images) expect(encodedImageSize(jpeg)).toEqual(await sharpSize(jpeg));
    expect(encodedImageSize(images[3]!)).toEqual({ width: 50, height: 20 });
  });

  it('reads the IHDR size of 8-bit, 16-bit grey and interlaced PNGs', async () => {
    const images = [
      await sharp(noise(33, 17, 3), { raw: { width: 33, height: 17, channels: 3 } }).png().toBuffer(),
      await sharp(noise(9, 70, 1), { raw: { width: 9, height: 70, channels: 1 } }).png({ progressive: true }).toBuffer(),
      await sharp(noise(12, 5, 1), { raw: { width: 12, height: 5, channels: 1 } }).toColourspace('grey16').png().toBuffer(),
    ];
    for (const png of images) expect(encodedImageSize(png)).toEqual(await sharpSize(png));
  });

  it('leaves other formats and headers it cannot follow to libvips (undefined)', async () => {
    const webp = await sharp(noise(10, 10, 3), { raw: { width: 10, height: 10, channels: 3 } }).webp().toBuffer();
    const jpeg = await sharp(noise(10, 10, 3), { raw: { width: 10, height: 10, channels: 3 } }).jpeg().toBuffer();
    expect(encodedImageSize(webp)).toBeUndefined();
    expect(encodedImageSize(Buffer.from('not an image'))).toBeUndefined();
    // Cut before the frame header; and a broken marker chain.
    expect(encodedImageSize(jpeg.subarray(0, 30))).toBeUndefined();
    const broken = Buffer.from(jpeg);
    broken[2] = 0x00;
    expect(encodedImageSize(broken)).toBeUndefined();
    // A frame height of 0 (size given later by a DNL marker) is not a size.
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    const dnl = Buffer.from(jpeg);
    dnl[sof + 5] = 0;
    dnl[sof + 6] = 0;
    expect(encodedImageSize(dnl)).toBeUndefined();
  });
});
