/**
 * The pixel size of an encoded JPEG or PNG read from its header in JS. The train transform needs
 * the size before it can draw a crop; asking sharp (`metadata()`) costs a second libvips decode
 * set-up per image, about 0.4 ms, which is 5 % of the loader's whole budget per image.
 * Other formats, and headers this reader does not understand, return undefined: the caller then
 * asks sharp. A header that lies is caught later, when the decoded crop does not have the
 * expected size.
 */
import type { Size } from './geometry';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** SOF0-SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Walks the marker segments up to the first start-of-frame. */
function jpegSize(bytes: Uint8Array): Size | undefined {
  let at = 2;
  while (at + 1 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // a fill byte before the marker
      continue;
    }
    // Markers without a length: TEM and the restart markers.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    // End of image or start of scan before any frame header: not a layout this reader handles.
    if (marker === 0xd9 || marker === 0xda || at + 3 >= bytes.length) return undefined;
    const length = u16(bytes, at + 2);
    if (isStartOfFrame(marker)) {
      if (at + 9 > bytes.length) return undefined;
      const height = u16(bytes, at + 5);
      const width = u16(bytes, at + 7);
      // Height 0 means "given later by a DNL marker": leave that to libvips.
      return width > 0 && height > 0 ? { width, height } : undefined;
    }
    if (length < 2) return undefined;
    at += 2 + length;
  }
  return undefined;
}

/** The IHDR chunk always comes first, right after the signature. */
function pngSize(bytes: Uint8Array): Size | undefined {
  if (bytes.length < 24 || bytes[12] !== 0x49 || bytes[13] !== 0x48 || bytes[14] !== 0x44 || bytes[15] !== 0x52) return undefined;
  const width = u32(bytes, 16);
  const height = u32(bytes, 20);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/** Width and height as stored (EXIF orientation not applied, as the transforms do not apply it), or undefined. */
export function encodedImageSize(bytes: Uint8Array): Size | undefined {
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes);
  if (bytes.length >= PNG_SIGNATURE.length && PNG_SIGNATURE.every((value, i) => bytes[i] === value)) return pngSize(bytes);
  return undefined;
}
