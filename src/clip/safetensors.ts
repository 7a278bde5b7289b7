/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__? }`, then the
 * raw little-endian tensor bytes. tfjs has no float16, so every float tensor is
 * decoded to Float32Array here; integers are widened to Float32Array as well (they
 * only ever hold small ids or counts in CLIP checkpoints).
 *
 * Decoding is written for checkpoints of hundreds of MB: F16 goes through a
 * 65,536-entry table of float32 bit patterns, BF16 is a 16-bit shift, both over
 * typed-array views (a copy is made only for a tensor whose bytes are not aligned to
 * its element size); F32 tensors are views of the input where aligned.
 * `readSafetensorsFile` reads one tensor at a time into a reusable buffer, so a file
 * never sits in memory beside its decoded float32 copy.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ClipError } from '../common/errors';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'F64';
/** What writeSafetensors can store (the data always comes as float32). */
export type SafetensorsWriteDtype = 'F32' | 'F16' | 'BF16' | 'I64';

export interface SafetensorsEntry {
  /** The dtype stored in the file (the data is always decoded to float32). */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsInput {
  shape: number[];
  data: Float32Array;
  /** How to store it. Default F32. F16 and BF16 round to nearest, ties to even; I64 needs integers. */
  dtype?: SafetensorsWriteDtype;
}

/** The file is not valid safetensors: the message says what was expected and what came. */
export class SafetensorsFormatError extends ClipError {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsFormatError';
  }
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, F64: 8 };

/** Typed-array views read host byte order; safetensors is little-endian, like every host Node runs on in practice. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One tensor's place in the file, from the header (offsets relative to the data section). */
interface TensorLayout {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

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

/** IEEE half → float (handles subnormals, infinities and NaN). The definition the F16 table is built from. */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/**
 * float → IEEE half bits: the value is first rounded to float32, then to the nearest
 * half, ties to even; beyond 65504 (from 65520 on) it becomes ±Infinity, NaN a quiet NaN.
 */
export function float32ToFloat16(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit bit into the 10 fraction bits.
    if (halfExponent < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    let half = full >>> shift;
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the fraction correctly steps the exponent (up to Infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** float → bfloat16 bits (the upper half of the float32, rounded to nearest, ties to even). */
export function float32ToBfloat16(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

let float16Table: Uint32Array | null = null;

/** float32 bit patterns of all 65,536 halves, from float16ToFloat32 (256 KB, built once). */
function float16Bits(): Uint32Array {
  if (!float16Table) {
    const values = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) values[h] = float16ToFloat32(h);
    float16Table = new Uint32Array(values.buffer);
  }
  return float16Table;
}

/** Per-element DataView decoding: only for a big-endian host. */
function decodeWithDataView(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  const read: Record<SafetensorsDtype, (i: number) => number> = {
    F32: (i) => view.getFloat32(i * 4, true),
    F64: (i) => view.getFloat64(i * 8, true),
    F16: (i) => float16ToFloat32(view.getUint16(i * 2, true)),
    BF16: (i) => {
      scratchBits[0] = view.getUint16(i * 2, true) << 16;
      return scratchFloat[0]!;
    },
    I32: (i) => view.getInt32(i * 4, true),
    I64: (i) => Number(view.getBigInt64(i * 8, true)),
  };
  for (let i = 0; i < count; i++) out[i] = read[dtype](i);
  return out;
}

/** A copy at offset 0 of a new buffer (explicit: a Buffer's slice() would return a view). */
function alignedCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/**
 * Decodes `count` elements of `dtype` to float32. F32 comes back as a view of `bytes`
 * when aligned (the caller must not reuse those bytes); every other dtype gets a new array.
 */
function decode(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): Float32Array {
  if (!HOST_LITTLE_ENDIAN) return decodeWithDataView(dtype, bytes, count);
  // Typed-array views need their element alignment; a misaligned tensor is copied once to a fresh buffer.
  const source = bytes.byteOffset % BYTES_PER_ELEMENT[dtype] === 0 ? bytes : alignedCopy(bytes);
  const { buffer, byteOffset } = source;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, byteOffset, count);
    case 'F16': {
      const halves = new Uint16Array(buffer, byteOffset, count);
      const table = float16Bits();
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = table[halves[i]!]!;
      return out;
    }
    case 'BF16': {
      // bfloat16 is the upper half of a float32: shift it into place.
      const halves = new Uint16Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = halves[i]! << 16;
      return out;
    }
    case 'F64':
      return Float32Array.from(new Float64Array(buffer, byteOffset, count));
    case 'I32':
      return Float32Array.from(new Int32Array(buffer, byteOffset, count));
    case 'I64': {
      const wide = new BigInt64Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(wide[i]!);
      return out;
    }
  }
}

/** Parses the JSON header into tensor layouts, checking each byte range against its shape and the data section. */
function parseHeader(headerBytes: Uint8Array, bodyLength: number): TensorLayout[] {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (error) {
    throw new SafetensorsFormatError(`safetensors header is not JSON: ${(error as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsFormatError('safetensors header must be a JSON object of tensors');
  }
  const layouts: TensorLayout[] = [];
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
    if (end - begin !== expectedBytes || end > bodyLength) {
      throw new SafetensorsFormatError(
        `tensor "${name}": shape [${value.shape.join(', ')}] ${dtype} needs ${expectedBytes} bytes, data_offsets [${begin}, ${end}] give ${end - begin} (body has ${bodyLength})`,
      );
    }
    layouts.push({ name, dtype, shape: [...value.shape], count, begin, end });
  }
  return layouts;
}

function headerLengthOf(prefix: Uint8Array, fileLength: number): number {
  if (fileLength < 8) throw new SafetensorsFormatError(`safetensors file too short: expected at least 8 bytes, got ${fileLength}`);
  const headerLength = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > fileLength - 8) {
    throw new SafetensorsFormatError(`safetensors header length ${headerLength} exceeds the file's ${fileLength - 8} remaining bytes`);
  }
  return headerLength;
}

/** Most bytes a safetensors JSON header may have (the format's own limit is 100 MB). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor as the header describes it, without its data. */
export interface SafetensorsHeaderEntry {
  dtype: SafetensorsDtype;
  shape: number[];
}

/**
 * The tensors a safetensors object holds, from its header alone: two ranged reads (the
 * 8-byte length, then the JSON), so a multi-gigabyte checkpoint is checked without being
 * downloaded. `read(start, end)` returns bytes [start, end); `size` is the object's size.
 */
export async function readSafetensorsHeader(read: (start: number, end: number) => Promise<Uint8Array>, size: number): Promise<Map<string, SafetensorsHeaderEntry>> {
  if (size < 8) throw new SafetensorsFormatError(`safetensors file too short: expected at least 8 bytes, got ${size}`);
  const headerLength = headerLengthOf(await read(0, 8), size);
  if (headerLength > MAX_SAFETENSORS_HEADER_BYTES) {
    throw new SafetensorsFormatError(`safetensors header of ${headerLength.toLocaleString('en-US')} bytes is over the format's ${MAX_SAFETENSORS_HEADER_BYTES.toLocaleString('en-US')}-byte limit`);
  }
  const layouts = parseHeader(await read(8, 8 + headerLength), size - 8 - headerLength);
  return new Map(layouts.map((layout) => [layout.name, { dtype: layout.dtype, shape: layout.shape }]));
}

/**
 * Parses a safetensors file held in memory into name → { dtype, shape, data (float32) }.
 * Aligned F32 tensors are views of `bytes`: leave `bytes` unmodified while they are in use.
 */
export function readSafetensors(bytes: Uint8Array): Map<string, SafetensorsEntry> {
  const headerLength = headerLengthOf(bytes, bytes.byteLength);
  const body = bytes.subarray(8 + headerLength);
  const tensors = new Map<string, SafetensorsEntry>();
  for (const layout of parseHeader(bytes.subarray(8, 8 + headerLength), body.byteLength)) {
    tensors.set(layout.name, { dtype: layout.dtype, shape: layout.shape, data: decode(layout.dtype, body.subarray(layout.begin, layout.end), layout.count) });
  }
  return tensors;
}

/** Where readSafetensorsFile stands, after each tensor. */
export interface SafetensorsReadProgress {
  /** Bytes of tensor data read and decoded so far, and in all. */
  bytesDone: number;
  bytesTotal: number;
  tensorsDone: number;
  tensorsTotal: number;
}

export interface ReadSafetensorsFileOptions {
  /** Called once before the first tensor (0 done) and after each tensor. */
  onProgress?: (progress: SafetensorsReadProgress) => void;
}

export interface SafetensorsFileSummary {
  /** File size in bytes. */
  fileBytes: number;
  /** Tensor data bytes per stored dtype, and tensor counts per dtype. */
  bytesByDtype: Partial<Record<SafetensorsDtype, number>>;
  tensorsByDtype: Partial<Record<SafetensorsDtype, number>>;
  /** Seconds spent waiting for reads, and decoding (synchronous, so CPU time of this thread). */
  readSeconds: number;
  decodeSeconds: number;
}

async function readExactly(handle: FileHandle, target: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const { bytesRead } = await handle.read(target, done, target.byteLength - done, position + done);
    if (bytesRead === 0) throw new SafetensorsFormatError(`safetensors file ended at byte ${position + done}, expected ${target.byteLength - done} more`);
    done += bytesRead;
  }
}

/**
 * Reads a safetensors file tensor by tensor. Peak memory is the decoded float32 tensors
 * plus one buffer the size of the largest non-F32 tensor (F32 tensors are read straight
 * into their output), not the file beside its decoded copy.
 */
export async function readSafetensorsFile(
  file: string,
  options: ReadSafetensorsFileOptions = {},
): Promise<{ tensors: Map<string, SafetensorsEntry>; summary: SafetensorsFileSummary }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const prefix = new Uint8Array(8);
    if (size >= 8) await readExactly(handle, prefix, 0);
    const headerLength = headerLengthOf(prefix, size);
    const headerBytes = new Uint8Array(headerLength);
    await readExactly(handle, headerBytes, 8);
    const bodyStart = 8 + headerLength;
    const layouts = parseHeader(headerBytes, size - bodyStart).sort((a, b) => a.begin - b.begin);
    const bytesTotal = layouts.reduce((sum, t) => sum + (t.end - t.begin), 0);
    const scratchBytes = Math.max(0, ...layouts.filter((t) => t.dtype !== 'F32' || !HOST_LITTLE_ENDIAN).map((t) => t.end - t.begin));
    // Allocated at offset 0 of its own buffer, so every dtype's view of it is aligned.
    const scratch = new Uint8Array(scratchBytes);
    const summary: SafetensorsFileSummary = { fileBytes: size, bytesByDtype: {}, tensorsByDtype: {}, readSeconds: 0, decodeSeconds: 0 };
    const tensors = new Map<string, SafetensorsEntry>();
    let bytesDone = 0;
    options.onProgress?.({ bytesDone, bytesTotal, tensorsDone: 0, tensorsTotal: layouts.length });
    for (const layout of layouts) {
      const length = layout.end - layout.begin;
      let data: Float32Array;
      const readStart = performance.now();
      if (layout.dtype === 'F32' && HOST_LITTLE_ENDIAN) {
        data = new Float32Array(layout.count);
        await readExactly(handle, new Uint8Array(data.buffer), bodyStart + layout.begin);
        summary.readSeconds += (performance.now() - readStart) / 1000;
      } else {
        const bytes = scratch.subarray(0, length);
        await readExactly(handle, bytes, bodyStart + layout.begin);
        const decodeStart = performance.now();
        summary.readSeconds += (decodeStart - readStart) / 1000;
        data = decode(layout.dtype, bytes, layout.count);
        summary.decodeSeconds += (performance.now() - decodeStart) / 1000;
      }
      tensors.set(layout.name, { dtype: layout.dtype, shape: layout.shape, data });
      summary.bytesByDtype[layout.dtype] = (summary.bytesByDtype[layout.dtype] ?? 0) + length;
      summary.tensorsByDtype[layout.dtype] = (summary.tensorsByDtype[layout.dtype] ?? 0) + 1;
      bytesDone += length;
      options.onProgress?.({ bytesDone, bytesTotal, tensorsDone: tensors.size, tensorsTotal: layouts.length });
    }
    return { tensors, summary };
  } finally {
    await handle.close();
  }
}

/** A tensor to write: its data comes later (writeSafetensorsFile asks for it one tensor at a time). */
export interface SafetensorsSpec {
  name: string;
  shape: number[];
  dtype: SafetensorsWriteDtype;
}

interface PlannedTensor extends SafetensorsSpec {
  count: number;
  begin: number;
}

/**
 * Lays the tensors out in the order given, stably sorted by element size (largest first,
 * as the reference writer does), so that with the data section starting on an 8-byte
 * boundary every tensor is aligned to its element size. Returns the file's first bytes
 * (length prefix + header padded with spaces) and where each tensor goes.
 */
function planFile(specs: readonly SafetensorsSpec[], metadata?: Record<string, string>): { head: Uint8Array; tensors: PlannedTensor[]; bodyBytes: number } {
  const ordered = [...specs].sort((a, b) => BYTES_PER_ELEMENT[b.dtype] - BYTES_PER_ELEMENT[a.dtype]);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const tensors: PlannedTensor[] = [];
  let offset = 0;
  for (const spec of ordered) {
    if (spec.name in header) throw new SafetensorsFormatError(`tensor "${spec.name}" is given twice`);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = count * BYTES_PER_ELEMENT[spec.dtype];
    header[spec.name] = { dtype: spec.dtype, shape: spec.shape, data_offsets: [offset, offset + bytes] };
    tensors.push({ ...spec, count, begin: offset });
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - ((8 + Buffer.byteLength(headerText)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(headerText);
  const head = new Uint8Array(8 + headerBytes.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  head.set(headerBytes, 8);
  return { head, tensors, bodyBytes: offset };
}

/** The stored bytes of one tensor (little-endian). */
function encode(tensor: PlannedTensor, data: Float32Array): Uint8Array {
  if (data.length !== tensor.count) throw new SafetensorsFormatError(`tensor "${tensor.name}": shape [${tensor.shape.join(', ')}] holds ${tensor.count} values, data has ${data.length}`);
  if (!HOST_LITTLE_ENDIAN) throw new SafetensorsFormatError('writing safetensors needs a little-endian host');
  switch (tensor.dtype) {
    case 'F32':
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    case 'F16':
    case 'BF16': {
      const convert = tensor.dtype === 'F16' ? float32ToFloat16 : float32ToBfloat16;
      const halves = new Uint16Array(data.length);
      for (let i = 0; i < data.length; i++) halves[i] = convert(data[i]!);
      return new Uint8Array(halves.buffer);
    }
    case 'I64': {
      const wide = new BigInt64Array(data.length);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isInteger(data[i])) throw new SafetensorsFormatError(`tensor "${tensor.name}": I64 needs integers, element ${i} is ${data[i]}`);
        wide[i] = BigInt(data[i]!);
      }
      return new Uint8Array(wide.buffer);
    }
  }
}

/**
 * Writes tensors as safetensors in memory, names sorted (then grouped by element size,
 * largest first, which keeps every tensor aligned) and the header padded with spaces
 * so the data starts on an 8-byte boundary.
 */
export function writeSafetensors(tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const plan = planFile(
    names.map((name) => ({ name, shape: tensors[name]!.shape, dtype: tensors[name]!.dtype ?? 'F32' })),
    metadata,
  );
  const out = new Uint8Array(plan.head.byteLength + plan.bodyBytes);
  out.set(plan.head, 0);
  for (const tensor of plan.tensors) out.set(encode(tensor, tensors[tensor.name]!.data), plan.head.byteLength + tensor.begin);
  return out;
}

/**
 * Writes a safetensors file one tensor at a time: `dataOf(name)` is called once per
 * tensor, in file order (the order given, grouped by element size), so memory holds one
 * tensor at a time. For checkpoints too large to build in memory.
 */
export async function writeSafetensorsFile(
  file: string,
  specs: readonly SafetensorsSpec[],
  dataOf: (spec: SafetensorsSpec) => Float32Array,
  metadata?: Record<string, string>,
): Promise<void> {
  const plan = planFile(specs, metadata);
  const handle = await open(file, 'w');
  try {
    await handle.write(plan.head, 0, plan.head.byteLength, 0);
    for (const tensor of plan.tensors) {
      const bytes = encode(tensor, dataOf(tensor));
      await handle.write(bytes, 0, bytes.byteLength, plan.head.byteLength + tensor.begin);
    }
  } finally {
    await handle.close();
  }
}
