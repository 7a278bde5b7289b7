import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  readSafetensors,
  readSafetensorsFile,
  SafetensorsFormatError,
  writeSafetensors,
  writeSafetensorsFile,
  type SafetensorsReadProgress,
  type SafetensorsSpec,
} from '../../src/clip/safetensors';

/** Builds a safetensors file by hand: header JSON (padded with `pad` spaces) + raw little-endian bytes. */
function handMadeFile(header: Record<string, unknown>, body: ArrayLike<number>, pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

const bitsView = new Uint32Array(1);
const floatView = new Float32Array(bitsView.buffer);
const floatFromBits = (bits: number): number => {
  bitsView[0] = bits;
  return floatView[0]!;
};
const bitsOfFloat = (value: number): number => {
  floatView[0] = value;
  return bitsView[0]!;
};

/**
 * Independent reference for half → float: assembles the float32 bit pattern (sign, rebiased
 * exponent, fraction moved up 13 bits; subnormals normalised by shifting), no arithmetic on values.
 */
function referenceHalfToFloat(half: number): number {
  const sign = (half & 0x8000) << 16;
  let exponent = (half >> 10) & 0x1f;
  let fraction = half & 0x3ff;
  if (exponent === 0x1f) return floatFromBits((sign | 0x7f800000 | (fraction << 13)) >>> 0);
  if (exponent === 0) {
    if (fraction === 0) return floatFromBits(sign >>> 0);
    exponent = 1;
    while ((fraction & 0x400) === 0) {
      fraction <<= 1;
      exponent--;
    }
    fraction &= 0x3ff;
  }
  return floatFromBits((sign | ((exponent - 15 + 127) << 23) | (fraction << 13)) >>> 0);
}

/** Same value, -0 apart from +0, any NaN equal to any NaN. */
const sameFloat = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

const ALL_HALVES = Uint16Array.from({ length: 65536 }, (_, i) => i);
const halfBytes = new Uint8Array(ALL_HALVES.buffer);

async function tempFile(name: string, bytes: Uint8Array): Promise<string> {
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'safetensors-')), name);
  await writeFile(file, bytes);
  return file;
}

const littleEndian16 = (values: number[]): number[] => values.flatMap((v) => [v & 0xff, v >> 8]);

describe('safetensors', () => {
  it('reads back exactly what it wrote, names sorted and data 8-byte aligned', () => {
    const tensors = {
      'b.weight': { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-8, -0, 65504]) },
      'a.bias': { shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) },
      scalar: { shape: [], data: Float32Array.from([4.605170249938965]) },
    };
    const bytes = writeSafetensors(tensors);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, { data_offsets: number[] }>;
    expect(Object.keys(header)).toEqual(['a.bias', 'b.weight', 'scalar']);
    expect(header['b.weight']!.data_offsets).toEqual([12, 36]);
    const read = readSafetensors(bytes);
    for (const [name, tensor] of Object.entries(tensors)) {
      expect(read.get(name)!.dtype).toBe('F32');
      expect(read.get(name)!.shape).toEqual(tensor.shape);
      expect(Array.from(read.get(name)!.data)).toEqual(Array.from(tensor.data));
    }
  });

  it('decodes F16 (normal, subnormal, infinite) and BF16 values to the hand-computed floats', () => {
    const f16 = [0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x7c00];
    const bf16 = [0x3f80, 0xc040, 0x4049, 0x3e80];
    const bytes = handMadeFile(
      { half: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 12] }, brain: { dtype: 'BF16', shape: [4], data_offsets: [12, 20] }, __metadata__: { format: 'pt' } },
      [...littleEndian16(f16), ...littleEndian16(bf16)],
    );
    const read = readSafetensors(bytes);
    // 0x3555: exponent 13 → 2^-2, mantissa 0x155 = 341 → 0.25 · (1 + 341/1024).
    expect(Array.from(read.get('half')!.data)).toEqual([1, -2, 0.25 * (1 + 341 / 1024), 65504, 2 ** -24, Infinity]);
    expect(read.get('half')!.shape).toEqual([2, 3]);
    // bfloat16 is the top half of a float32: 0x4049 → 0x40490000 = 3.140625.
    expect(Array.from(read.get('brain')!.data)).toEqual([1, -3, 3.140625, 0.25]);
    expect(read.has('__metadata__')).toBe(false);
  });

  it('decodes I64 and I32 tensors to their integer values', () => {
    const body = new Uint8Array(24);
    const view = new DataView(body.buffer);
    view.setBigInt64(0, 5n, true);
    view.setBigInt64(8, -7n, true);
    view.setInt32(16, 123456, true);
    view.setInt32(20, -1, true);
    const read = readSafetensors(handMadeFile({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] }, small: { dtype: 'I32', shape: [2], data_offsets: [16, 24] } }, Array.from(body)));
    expect(Array.from(read.get('ids')!.data)).toEqual([5, -7]);
    expect(Array.from(read.get('small')!.data)).toEqual([123456, -1]);
  });

  it('refuses a tensor whose byte range does not match its shape, naming the tensor', () => {
    const bytes = handMadeFile({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, new Array<number>(12).fill(0));
    expect(() => readSafetensors(bytes)).toThrow(SafetensorsFormatError);
    expect(() => readSafetensors(bytes)).toThrow(/tensor "w": shape \[2, 2\] F32 needs 16 bytes/);
  });

  it('refuses an unsupported dtype and a truncated header with what was expected', () => {
    expect(() => readSafetensors(handMadeFile({ w: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, [0]))).toThrow(/dtype U8 is not supported/);
    const truncated = new Uint8Array(16);
    new DataView(truncated.buffer).setBigUint64(0, 100n, true);
    expect(() => readSafetensors(truncated)).toThrow(/header length 100 exceeds/);
  });
});

describe('F16 and BF16 decoding at full speed', () => {
  // Header padding decides where the data starts: pad 0 and 1 give an even and an odd start.
  const files = [0, 1].map((pad) => {
    const bytes = handMadeFile({ all: { dtype: 'F16', shape: [256, 256], data_offsets: [0, 131072] } }, halfBytes, pad);
    return { pad, bytes, aligned: (8 + bytes.byteLength - 131072) % 2 === 0 };
  });

  it('decodes every one of the 65,536 F16 patterns exactly as float16ToFloat32 and the bit-level reference do, aligned or not', async () => {
    expect(files.map((f) => f.aligned).sort()).toEqual([false, true]);
    for (const { bytes } of files) {
      const decoders = [readSafetensors(bytes).get('all')!.data, (await readSafetensorsFile(await tempFile('all.safetensors', bytes))).tensors.get('all')!.data];
      for (const data of decoders) {
        let mismatches = 0;
        for (let h = 0; h < 65536; h++) {
          const value = data[h]!;
          if (!sameFloat(value, float16ToFloat32(h)) || !sameFloat(value, referenceHalfToFloat(h))) mismatches++;
        }
        expect(mismatches).toBe(0);
      }
    }
    // Spot values the reference must give, so it cannot agree with a wrong decoder by accident.
    expect([0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x7c00, 0xfc00].map(referenceHalfToFloat)).toEqual([
      0,
      -0,
      2 ** -24,
      1023 * 2 ** -24,
      2 ** -14,
      1,
      65504,
      Infinity,
      -Infinity,
    ]);
    expect(Number.isNaN(referenceHalfToFloat(0x7e00)) && Number.isNaN(referenceHalfToFloat(0xfc01))).toBe(true);
  });

  it('decodes every BF16 pattern as the upper half of a float32, from an odd offset too', () => {
    for (const pad of [0, 1]) {
      const data = readSafetensors(handMadeFile({ b: { dtype: 'BF16', shape: [65536], data_offsets: [0, 131072] } }, halfBytes, pad)).get('b')!.data;
      let mismatches = 0;
      for (let h = 0; h < 65536; h++) if (!sameFloat(data[h]!, floatFromBits((h << 16) >>> 0))) mismatches++;
      expect(mismatches).toBe(0);
    }
  });

  it('returns aligned F32 tensors as views of the input and copies misaligned ones', () => {
    const values = Float32Array.from([1.5, -2.25, 3e-8]);
    const aligned = writeSafetensors({ w: { shape: [3], data: values } });
    const alignedData = readSafetensors(aligned).get('w')!.data;
    expect(alignedData.buffer).toBe(aligned.buffer);
    expect(Array.from(alignedData)).toEqual(Array.from(values));
    const shifted = new Uint8Array(aligned.byteLength + 1);
    shifted.set(aligned, 1);
    const misaligned = readSafetensors(shifted.subarray(1)).get('w')!.data;
    expect(misaligned.buffer).not.toBe(shifted.buffer);
    expect(Array.from(misaligned)).toEqual(Array.from(values));
  });
});

describe('float → F16 / BF16 encoding', () => {
  it('round-trips every finite F16 pattern and rounds midpoints to the even neighbour', () => {
    let roundTripErrors = 0;
    let tieErrors = 0;
    for (let h = 0; h < 65536; h++) {
      const exponent = (h >> 10) & 0x1f;
      if (exponent === 0x1f) continue;
      if (float32ToFloat16(float16ToFloat32(h)) !== h) roundTripErrors++;
      // The midpoint to the next half away from zero (same sign), which needs 12 significant bits: exact in float32.
      const next = h + 1;
      if (((next >> 10) & 0x1f) === 0x1f) continue;
      const middle = (float16ToFloat32(h) + float16ToFloat32(next)) / 2;
      const even = (h & 1) === 0 ? h : next;
      if (float32ToFloat16(middle) !== even) tieErrors++;
      const above = floatFromBits(bitsOfFloat(middle) + 1); // one float32 step further from zero
      if (float32ToFloat16(above) !== next) tieErrors++;
    }
    expect(roundTripErrors).toBe(0);
    expect(tieErrors).toBe(0);
  });

  it('overflows to infinity from 65520 on, keeps NaN a NaN and flushes below half the smallest subnormal to zero', () => {
    expect(float32ToFloat16(65519.99)).toBe(0x7bff);
    expect(float32ToFloat16(65520)).toBe(0x7c00);
    expect(float32ToFloat16(-1e9)).toBe(0xfc00);
    expect(Number.isNaN(float16ToFloat32(float32ToFloat16(NaN)))).toBe(true);
    expect(float32ToFloat16(2 ** -25)).toBe(0); // a tie between 0 and 2^-24: even is 0
    expect(float32ToFloat16(2 ** -25 * 1.0001)).toBe(1);
    expect(float32ToFloat16(-(2 ** -26))).toBe(0x8000);
  });

  it('round-trips every finite BF16 pattern and rounds BF16 ties to even', () => {
    let errors = 0;
    for (let b = 0; b < 65536; b++) {
      if (((b >> 7) & 0xff) === 0xff) continue;
      if (float32ToBfloat16(floatFromBits((b << 16) >>> 0)) !== b) errors++;
    }
    expect(errors).toBe(0);
    // 1 + 2^-8 lies halfway between bf16 1 (0x3f80, even) and 1 + 2^-7 (0x3f81).
    expect(float32ToBfloat16(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(floatFromBits(float32ToBfloat16(NaN) << 16))).toBe(true);
  });
});

describe('writing F16, BF16 and I64, in memory and to a file', () => {
  const tensors = {
    'text_model.embeddings.position_ids': { shape: [1, 5], data: Float32Array.from([0, 1, 2, 3, 4]), dtype: 'I64' as const },
    'a.weight': { shape: [2, 2], data: Float32Array.from([1, -0.5, 0.1, 70000]), dtype: 'F16' as const },
    'b.bias': { shape: [3], data: Float32Array.from([3.140625, -0, 1e-3]), dtype: 'BF16' as const },
    'c.scale': { shape: [1], data: Float32Array.from([4.6051702]) },
  };

  it('stores each dtype aligned to its element size and reads back the rounded values', () => {
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    expect((8 + headerLength) % 8).toBe(0);
    const elementBytes: Record<string, number> = { I64: 8, F32: 4, F16: 2, BF16: 2 };
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      expect(entry.data_offsets[0] % elementBytes[entry.dtype]!).toBe(0);
    }
    expect(header['text_model.embeddings.position_ids']!.data_offsets).toEqual([0, 40]);
    const read = readSafetensors(bytes);
    expect(read.get('text_model.embeddings.position_ids')).toEqual({ dtype: 'I64', shape: [1, 5], data: Float32Array.from([0, 1, 2, 3, 4]) });
    // F16: 0.1 → 0x2e66 = 0.0999755859375; 70000 is beyond 65504 → Infinity.
    expect(Array.from(read.get('a.weight')!.data)).toEqual([1, -0.5, 0.0999755859375, Infinity]);
    expect(read.get('a.weight')!.dtype).toBe('F16');
    // BF16 keeps 8 significant bits: 1e-3 is float32 0x3a83126f, rounded down to 0x3a83 = 2^-10 · (1 + 3/128).
    expect(Array.from(read.get('b.bias')!.data)).toEqual([3.140625, -0, 2 ** -10 * (1 + 3 / 128)]);
    expect(read.get('c.scale')!.data[0]).toBe(Math.fround(4.6051702));
  });

  it('writes a file tensor by tensor with the same bytes as the in-memory writer and reads it back with progress', async () => {
    const names = Object.keys(tensors).sort();
    const specs: SafetensorsSpec[] = names.map((name) => {
      const t = tensors[name as keyof typeof tensors];
      return { name, shape: t.shape, dtype: 'dtype' in t ? t.dtype : 'F32' };
    });
    const asked: string[] = [];
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'safetensors-')), 'w.safetensors');
    await writeSafetensorsFile(
      file,
      specs,
      (spec) => {
        asked.push(spec.name);
        return tensors[spec.name as keyof typeof tensors].data;
      },
      { format: 'pt' },
    );
    expect(new Uint8Array(await readFile(file))).toEqual(writeSafetensors(tensors, { format: 'pt' }));
    // File order: the I64 first (largest element), then F32, then the two 2-byte dtypes in the given order.
    expect(asked).toEqual(['text_model.embeddings.position_ids', 'c.scale', 'a.weight', 'b.bias']);
    const progress: SafetensorsReadProgress[] = [];
    const { tensors: read, summary } = await readSafetensorsFile(file, { onProgress: (p) => progress.push(p) });
    expect(read).toEqual(readSafetensors(new Uint8Array(await readFile(file))));
    expect(progress.map((p) => p.tensorsDone)).toEqual([0, 1, 2, 3, 4]);
    expect(progress.at(-1)).toEqual({ bytesDone: 40 + 4 + 8 + 6, bytesTotal: 58, tensorsDone: 4, tensorsTotal: 4 });
    expect(summary.bytesByDtype).toEqual({ I64: 40, F32: 4, F16: 8, BF16: 6 });
    expect(summary.tensorsByDtype).toEqual({ I64: 1, F32: 1, F16: 1, BF16: 1 });
  });

  it('refuses non-integer I64 data and a truncated file, saying what was expected', async () => {
    expect(() => writeSafetensors({ ids: { shape: [2], data: Float32Array.from([1, 1.5]), dtype: 'I64' } })).toThrow(/I64 needs integers, element 1 is 1.5/);
    const whole = writeSafetensors({ w: { shape: [4], data: new Float32Array(4) } });
    const file = await tempFile('short.safetensors', whole.subarray(0, whole.byteLength - 4));
    await expect(readSafetensorsFile(file)).rejects.toThrow(/tensor "w": shape \[4\] F32 needs 16 bytes/);
  });
});
