import { describe, expect, it } from 'vitest';
import { readSafetensors, SafetensorsFormatError, writeSafetensors } from '../../src/clip/safetensors';

/** Builds a safetensors file by hand: header JSON + raw little-endian bytes. */
function handMadeFile(header: Record<string, unknown>, body: number[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
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
