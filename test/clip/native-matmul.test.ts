/**
 * The OpenBLAS matrix products on the wasm backend (src/clip/native-matmul.ts, native/gemm):
 * every form tfjs asks of BatchMatMul and _FusedMatMul (transposes, batched and broadcast
 * operands, a row bias, empty products) and the gradients through them, against products
 * computed here in float64. Tolerance: 1e-5 relative to the sum of |a_ik·b_kj| (float32
 * accumulation over k ≤ 300 terms). Where the addon is not built (no OpenBLAS headers), the
 * kernel tests skip with a message; the loader's refusals are tested everywhere.
 *
 * Across kernels (XNNPACK against OpenBLAS), a Sage run on the mini-CLIP is the same numbers added
 * in another order in every product: after 2 epochs the trainable weights differ by 8.3e-7 at most
 * (measured); the test allows 1e-5, as the replica tests do across W, and the same accuracy.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import { defaultNativeGemmFile, installNativeMatmul, loadNativeGemm, matmulFacts } from '../../src/clip/native-matmul';
import { mulberry32 } from '../../src/common/random';
import { runNode } from '../cli/fixtures';

const available = loadNativeGemm().gemm !== undefined && process.env.SAGE_MATMUL !== 'wasm';
if (!available) console.warn(`native-matmul kernel tests skipped: ${process.env.SAGE_MATMUL === 'wasm' ? 'SAGE_MATMUL=wasm' : loadNativeGemm().reason}`);

function randomArray(length: number, random: () => number): Float32Array {
  return Float32Array.from({ length }, () => random() * 2 - 1);
}

/** Row-major float64 product of one batch item, with optional transposes; also Σ|terms| per entry. */
function reference(a: Float32Array, b: Float32Array, m: number, n: number, k: number, ta: boolean, tb: boolean): { c: Float64Array; scale: Float64Array } {
  const c = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let abs = 0;
      for (let q = 0; q < k; q++) {
        const term = (ta ? a[q * m + i]! : a[i * k + q]!) * (tb ? b[j * k + q]! : b[q * n + j]!);
        sum += term;
        abs += Math.abs(term);
      }
      c[i * n + j] = sum;
      scale[i * n + j] = abs;
    }
  return { c, scale };
}

function expectClose(actual: Float32Array, expected: Float64Array, scale: Float64Array): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (scale[i]! + 1e-30));
  expect(worst).toBeLessThan(1e-5);
}

describe('native matmul loader', () => {
  it('names a missing addon and a file that is not one, and refuses SAGE_MATMUL=native without it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sage-gemm-'));
    expect(loadNativeGemm(path.join(dir, 'absent.node')).reason).toMatch(/not built .*npm run native/);
    const fake = path.join(dir, 'fake.node');
    writeFileSync(fake, 'not a shared object');
    expect(loadNativeGemm(fake).reason).toMatch(/fake\.node did not load/);
    expect(() => installNativeMatmul('native', path.join(dir, 'absent.node'))).toThrow(/SAGE_MATMUL=native, but the OpenBLAS addon is not built/);
    expect(() => installNativeMatmul('fast' as 'auto')).toThrow(/SAGE_MATMUL must be auto, native or wasm/);
  });
});

describe('building the addon (scripts/build-native.ts)', () => {
  const script = fileURLToPath(new URL('../../scripts/build-native.ts', import.meta.url));
  it("never fails npm ci's prepare step (--optional) when it cannot build, and says how to get it; npm run native fails", async () => {
    // SAGE_SKIP_NATIVE takes the same way out as a machine without OpenBLAS's headers.
    const env = { ...process.env, SAGE_SKIP_NATIVE: '1' };
    const optional = await runNode(['--import', import.meta.resolve('tsx'), script, '--optional'], process.cwd(), env);
    expect(optional.code, optional.stderr).toBe(0);
    expect(optional.stdout).toMatch(/^native matrix products: not built \(SAGE_SKIP_NATIVE=1\); training on the CPU uses wasm's own matrix kernels.*`npm run native` builds them later/);
    const required = await runNode(['--import', import.meta.resolve('tsx'), script], process.cwd(), env);
    expect(required.code).toBe(1);
    expect(required.stderr).toContain('npm run native: SAGE_SKIP_NATIVE=1');
  });

  it('keeps the built addon when a build fails (a compiler that exits 1), under --optional too', async () => {
    const before = existsSync(defaultNativeGemmFile()) ? readFileSync(defaultNativeGemmFile()) : null;
    const result = await runNode(['--import', import.meta.resolve('tsx'), script, '--optional'], process.cwd(), { ...process.env, CC: 'false' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^native matrix products: not built \(/);
    expect(existsSync(defaultNativeGemmFile()) ? readFileSync(defaultNativeGemmFile()) : null).toEqual(before);
  });
});

describe.skipIf(!available)('OpenBLAS products on the wasm backend', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: () => {} });
  });

  it('is what the wasm backend uses, and says so in the device facts', () => {
    expect(defaultNativeGemmFile()).toMatch(/sage_gemm\.node$/);
    expect(matmulFacts()).toMatchObject({ kernel: 'openblas', detail: expect.stringMatching(/^OpenBLAS \d/) });
  });

  it('multiplies with every transpose, batched and broadcast, as float64 does', () => {
    const random = mulberry32(11);
    const cases: { aShape: number[]; bShape: number[]; ta: boolean; tb: boolean }[] = [
      { aShape: [37, 300], bShape: [300, 70], ta: false, tb: false },
      { aShape: [300, 37], bShape: [300, 70], ta: true, tb: false },
      { aShape: [37, 300], bShape: [70, 300], ta: false, tb: true },
      { aShape: [300, 37], bShape: [70, 300], ta: true, tb: true },
      // Attention's shapes: batch × heads items of one product each.
      { aShape: [2, 3, 9, 16], bShape: [2, 3, 9, 16], ta: false, tb: true },
      // One operand broadcast over the other's batch, either side.
      { aShape: [4, 5, 8], bShape: [8, 6], ta: false, tb: false },
      { aShape: [5, 8], bShape: [4, 6, 8], ta: false, tb: true },
      { aShape: [1, 5, 8], bShape: [3, 8, 2], ta: false, tb: false },
    ];
    // Outer dims broadcast on both sides ([I, 1] against [1, J], J = 3, and J = I = 2 where the operands'
    // batch sizes are equal but their shapes are not): item (i, j) reads a's i and b's j.
    for (const [I, J] of [
      [2, 3],
      [2, 2],
    ] as const) {
      const aData = randomArray(I * 5 * 8, random);
      const bData = randomArray(J * 8 * 4, random);
      const c = tf.tidy(() => tf.matMul(tf.tensor(aData, [I, 1, 5, 8]), tf.tensor(bData, [1, J, 8, 4])));
      expect(c.shape).toEqual([I, J, 5, 4]);
      const actual = c.dataSync() as Float32Array;
      for (let i = 0; i < I; i++)
        for (let j = 0; j < J; j++) {
          const { c: expected, scale } = reference(aData.subarray(i * 40, (i + 1) * 40), bData.subarray(j * 32, (j + 1) * 32), 5, 4, 8, false, false);
          expectClose(actual.subarray((i * J + j) * 20, (i * J + j + 1) * 20), expected, scale);
        }
      c.dispose();
    }
    for (const { aShape, bShape, ta, tb } of cases) {
      const aData = randomArray(aShape.reduce((x, y) => x * y, 1), random);
      const bData = randomArray(bShape.reduce((x, y) => x * y, 1), random);
      const c = tf.tidy(() => tf.matMul(tf.tensor(aData, aShape), tf.tensor(bData, bShape), ta, tb));
      const m = ta ? aShape.at(-1)! : aShape.at(-2)!;
      const k = ta ? aShape.at(-2)! : aShape.at(-1)!;
      const n = tb ? bShape.at(-2)! : bShape.at(-1)!;
      const batchA = aShape.slice(0, -2).reduce((x, y) => x * y, 1);
      const batchB = bShape.slice(0, -2).reduce((x, y) => x * y, 1);
      const batch = Math.max(batchA, batchB);
      // Outer dims broadcast as numpy's do: aligned from the right, a 1 takes the other's size.
      const outerA = aShape.slice(0, -2);
      const outerB = bShape.slice(0, -2);
      const rank = Math.max(outerA.length, outerB.length);
      const outer = Array.from({ length: rank }, (_, i) => Math.max(outerA[outerA.length - rank + i] ?? 1, outerB[outerB.length - rank + i] ?? 1));
      expect(c.shape).toEqual([...outer, m, n]);
      const actual = c.dataSync() as Float32Array;
      for (let item = 0; item < batch; item++) {
        const a = aData.subarray((item % batchA) * m * k, (item % batchA + 1) * m * k);
        const b = bData.subarray((item % batchB) * k * n, (item % batchB + 1) * k * n);
        const { c: expected, scale } = reference(a, b, m, n, k, ta, tb);
        expectClose(actual.subarray(item * m * n, (item + 1) * m * n), expected, scale);
      }
      c.dispose();
    }
  });

  it('adds a row bias in the fused product, and leaves activations to the wasm kernel', () => {
    const random = mulberry32(12);
    const aData = randomArray(6 * 40, random);
    const bData = randomArray(40 * 9, random);
    const biasData = randomArray(9, random);
    const { c: product, scale } = reference(aData, bData, 6, 9, 40, false, false);
    const expected = product.map((value, i) => value + biasData[i % 9]!);
    const biasScale = scale.map((value, i) => value + Math.abs(biasData[i % 9]!));
    const [linear, relu] = tf.tidy(() => {
      const a = tf.tensor2d(aData, [6, 40]);
      const b = tf.tensor2d(bData, [40, 9]);
      const bias = tf.tensor1d(biasData);
      return [tf.fused.matMul({ a, b, bias }), tf.fused.matMul({ a, b, bias, activation: 'relu' })];
    });
    expectClose(linear!.dataSync() as Float32Array, expected, biasScale);
    expectClose(relu!.dataSync() as Float32Array, expected.map((value) => Math.max(0, value)), biasScale);
    tf.dispose([linear!, relu!]);
  });

  it("refuses operands outside the heap it is given, and calls that are not the kernel's", () => {
    const gemm = loadNativeGemm().gemm!;
    const heap = new Float32Array(12);
    const raw = gemm.multiply as unknown as (...args: unknown[]) => void;
    const call = (...args: number[]) => () => raw(heap, ...args);
    expect(call(0, 4, 8, 1, 1, 1, 2, 2, 2, 0, 0, 0)).not.toThrow();
    expect(call(-1, 4, 8, 1, 1, 1, 2, 2, 2, 0, 0, 0)).toThrow(/operands outside the heap/);
    expect(call(0, 4, 9, 1, 1, 1, 2, 2, 2, 0, 0, 0)).toThrow(/operands outside the heap/); // c would end at 13
    expect(call(0, 4, 8, 2, 1, 1, 2, 2, 2, 0, 0, 0)).toThrow(/operands outside the heap/); // two items of c
    expect(call(0, 4, 8, 1, 1, 1, 2 ** 40, 2 ** 40, 2 ** 40, 0, 0, 0)).toThrow(/operands outside the heap/); // sizes that overflow
    expect(() => raw(heap, 0)).toThrow(/takes 13 arguments/);
    expect(() => raw(new Float64Array(12), 0, 4, 8, 1, 1, 1, 2, 2, 2, 0, 0, 0)).toThrow(/heap must be a Float32Array/);
  });

  it('gives empty products their shape and a zero inner size zeros', () => {
    const [empty, zeros] = tf.tidy(() => [tf.matMul(tf.zeros([0, 4]), tf.ones([4, 3])), tf.matMul(tf.ones([2, 0]), tf.ones([0, 3]))]);
    expect(empty!.shape).toEqual([0, 3]);
    expect(Array.from(zeros!.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    tf.dispose([empty!, zeros!]);
  });

  it('carries the gradients of both operands (dA = dC·Bᵀ, dB = Aᵀ·dC)', () => {
    const random = mulberry32(13);
    const aData = randomArray(7 * 30, random);
    const bData = randomArray(30 * 5, random);
    const weights = randomArray(7 * 5, random);
    const [da, db] = tf.tidy(() => {
      const w = tf.tensor2d(weights, [7, 5]);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b).mul(w).sum())([tf.tensor2d(aData, [7, 30]), tf.tensor2d(bData, [30, 5])]);
    });
    const expectedA = reference(weights, bData, 7, 30, 5, false, true);
    const expectedB = reference(aData, weights, 30, 5, 7, true, false);
    expectClose(da!.dataSync() as Float32Array, expectedA.c, expectedA.scale);
    expectClose(db!.dataSync() as Float32Array, expectedB.c, expectedB.scale);
    tf.dispose([da!, db!]);
  });
});

describe('a SAGE_MATMUL that cannot be had', () => {
  it('stops the backend with the reason instead of falling through to the cpu backend', async () => {
    // The automatic backend order, as the CLI and the trainer start it: wasm must not be skipped for cpu.
    const backend = JSON.stringify(fileURLToPath(new URL('../../src/clip/backend.ts', import.meta.url)));
    const code = `import(${backend}).then((m) => m.initBackend({ log: () => {} })).then((name) => console.log('started', name), (e) => { console.error(e.constructor.name + ': ' + e.message); process.exit(3); })`;
    const result = await runNode(['--import', import.meta.resolve('tsx'), '-e', code], process.cwd(), { ...process.env, SAGE_MATMUL: 'fast' });
    expect(result.stdout).not.toContain('started');
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('NativeMatmulError: SAGE_MATMUL must be auto, native or wasm, not "fast"');
  });
});

describe.skipIf(!available)('training on either kernel', () => {
  it('ends a mini-CLIP Sage run at the same weights within float32 summation tolerance, and the same accuracy', async () => {
    const script = fileURLToPath(new URL('./fixtures/kernel-train.ts', import.meta.url));
    const run = async (kernel: string) => {
      const result = await runNode(['--import', import.meta.resolve('tsx'), script], process.cwd(), { ...process.env, SAGE_MATMUL: kernel });
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { matmul: { kernel: string }; losses: number[]; weights: Record<string, number[]>; accuracy: { all: number } };
    };
    const [xnnpack, openblas] = [await run('wasm'), await run('native')];
    expect([xnnpack.matmul.kernel, openblas.matmul.kernel]).toEqual(['xnnpack', 'openblas']);
    let worst = 0;
    let count = 0;
    for (const [name, values] of Object.entries(xnnpack.weights)) {
      values.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - openblas.weights[name]![i]!))));
      count += values.length;
    }
    expect(count).toBeGreaterThan(1000);
    expect(worst).toBeLessThan(1e-5);
    expect(worst).toBeGreaterThan(0); // two kernels, not one path twice
    openblas.losses.forEach((loss, i) => expect(loss).toBeCloseTo(xnnpack.losses[i]!, 5));
    expect(openblas.accuracy).toEqual(xnnpack.accuracy);
  });
});
