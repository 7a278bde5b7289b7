/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__? }`, then the
 * raw little-endian tensor bytes. tfjs has no float16, so every float tensor is
 * decoded to Float32Array here; integers are widened to Float32Array as well (they
 * only ever hold small ids or counts in CLIP checkpoints).
 */

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'F64';

export interface SafetensorsEntry {
  /** The dtype stored in the file (the data is always decoded to float32). */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsInput {
  shape: number[];
  data: Float32Array;
}

/** The file is not valid safetensors: the message says what was expected and what came. */
export class SafetensorsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsFormatError';
  }
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, F64: 8 };

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function isHeaderEntry(value: unknown): value is HeaderEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.dtype === 'string' &&
    Array.isArray(entry.shape) &&
    entry.shape.every((d) => Number.isInteger(d) && (d as number) >= 0) &&
    Array.isArray(entry.data_offsets) &&
    entry.data_offsets.length === 2 &&
    entry.data_offsets.every((o) => Number.isInteger(o) && (o as number) >= 0)
  );
}

/** IEEE half → float (handles subnormals, infinities and NaN). */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function decode(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      // A byte copy is much faster than DataView reads; safetensors is little-endian like every host Node runs on.
      return new Float32Array(bytes.slice().buffer, 0, count);
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = float16ToFloat32(view.getUint16(i * 2, true));
      break;
    case 'BF16': {
      // bfloat16 is the upper half of a float32: shift it into place.
      const wide = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) wide[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
  }
  return out;
}

/** Parses a safetensors file into name → { dtype, shape, data (float32) }. */
export function readSafetensors(bytes: Uint8Array): Map<string, SafetensorsEntry> {
  if (bytes.byteLength < 8) throw new SafetensorsFormatError(`safetensors file too short: expected at least 8 bytes, got ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.byteLength - 8) {
    throw new SafetensorsFormatError(`safetensors header length ${headerLength} exceeds the file's ${bytes.byteLength - 8} remaining bytes`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new SafetensorsFormatError(`safetensors header is not JSON: ${(error as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsFormatError('safetensors header must be a JSON object of tensors');
  }
  const body = bytes.subarray(8 + headerLength);
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    if (!isHeaderEntry(value)) throw new SafetensorsFormatError(`tensor "${name}": expected { dtype, shape, data_offsets }, got ${JSON.stringify(value)}`);
    if (!(value.dtype in BYTES_PER_ELEMENT)) {
      throw new SafetensorsFormatError(`tensor "${name}": dtype ${value.dtype} is not supported (expected one of ${Object.keys(BYTES_PER_ELEMENT).join(', ')})`);
    }
    const dtype = value.dtype as SafetensorsDtype;
    const count = value.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = value.data_offsets;
    const expectedBytes = count * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== expectedBytes || end > body.byteLength) {
      throw new SafetensorsFormatError(
        `tensor "${name}": shape [${value.shape.join(', ')}] ${dtype} needs ${expectedBytes} bytes, data_offsets [${begin}, ${end}] give ${end - begin} (body has ${body.byteLength})`,
      );
    }
    tensors.set(name, { dtype, shape: [...value.shape], data: decode(dtype, body.subarray(begin, end), count) });
  }
  return tensors;
}

/**
 * Writes float32 tensors as safetensors, names sorted (as the reference writer does)
 * and the header padded with spaces so the data starts on an 8-byte boundary.
 */
export function writeSafetensors(tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors[name]!;
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new SafetensorsFormatError(`tensor "${name}": shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - ((8 + Buffer.byteLength(headerText)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.byteLength;
  for (const name of names) {
    const { data } = tensors[name]!;
    for (let i = 0; i < data.length; i++) view.setFloat32(position + i * 4, data[i]!, true);
    position += data.length * 4;
  }
  return out;
}
