/**
 * OpenBLAS's sgemm for the wasm backend's matrix products (BatchMatMul, and _FusedMatMul with a
 * row bias and no activation), through the optional addon native/gemm (`npm run native`).
 *
 * Why: tfjs-backend-wasm multiplies with XNNPACK's 128-bit SIMD kernels, 26-38 GFLOP/s per core
 * for a plain product and under 3 for attention's batched ones, where OpenBLAS reaches 92-103 and
 * 70-79 on the same core (BENCHMARKS.md), and a ViT-B/16 step is about 90 % matrix products. tfjs-node would bring native kernels too, but its install downloads libtensorflow,
 * which a machine without internet cannot. The addon is a thin N-API shim over cblas_sgemm (the
 * well-kept library does the work): it reads the operands in the wasm heap and writes the product
 * there, so nothing is copied. Every other op stays on wasm, with its memory, its tape and its
 * replicas (one core each: OpenBLAS runs on the calling thread).
 *
 * Loaded when the addon is built and SAGE_MATMUL is not `wasm`; `SAGE_MATMUL=native` makes a
 * missing addon an error. Results differ from XNNPACK's only by float32 summation order.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { packageRootOf } from '../common/package-root';
import { ClipError } from '../common/errors';
import { replaceWasmKernel } from './wasm-kernels';

/** The addon's interface (native/gemm/gemm.c). */
export interface NativeGemm {
  /** c = a·b + beta·c over `batch` items; offsets in float32 elements of `heap`. */
  multiply(
    heap: Float32Array,
    aOffset: number,
    bOffset: number,
    cOffset: number,
    batch: number,
    batchA: number,
    batchB: number,
    m: number,
    n: number,
    k: number,
    transposeA: number,
    transposeB: number,
    beta: number,
  ): void;
  /** OpenBLAS's build line (version, build options). */
  library: string;
  /** The kernel family OpenBLAS chose for this CPU (Haswell, SkylakeX, Zen, ...). */
  core: string;
  /** The library's threading: 0 serial, 1 pthreads, 2 OpenMP (each call runs on the caller's thread either way). */
  parallel?: number;
}

/** Where `npm run native` puts the addon, under the package root. */
export const NATIVE_GEMM_PATH = path.join('native', 'gemm', 'build', 'sage_gemm.node');

export type MatmulChoice = 'auto' | 'native' | 'wasm';

/** What the matrix products run on, for the start-up line, metrics.json and `sage doctor`. */
export interface MatmulFacts {
  kernel: 'openblas' | 'xnnpack';
  /** OpenBLAS's version and kernel family, or why the addon is not used. */
  detail: string;
}

const loaded = new Map<string, { gemm?: NativeGemm; reason?: string }>();

/** The addon's path in this package (it may be absent). */
export function defaultNativeGemmFile(): string {
  return path.join(packageRootOf(import.meta.url) ?? process.cwd(), NATIVE_GEMM_PATH);
}

/** Loads the addon once per file; `reason` says why not where it is absent or broken. */
export function loadNativeGemm(file = defaultNativeGemmFile()): { gemm?: NativeGemm; reason?: string } {
  const known = loaded.get(file);
  if (known) return known;
  let result: { gemm?: NativeGemm; reason?: string };
  if (!existsSync(file)) {
    result = { reason: `the OpenBLAS addon is not built (${NATIVE_GEMM_PATH} is absent; \`npm run native\` builds it where OpenBLAS's headers are installed)` };
  } else {
    try {
      const gemm = createRequire(import.meta.url)(file) as NativeGemm;
      if (typeof gemm.multiply !== 'function') throw new Error('it has no multiply function');
      result = { gemm };
    } catch (error) {
      result = { reason: `the OpenBLAS addon ${file} did not load: ${(error as Error).message.split('\n')[0]}` };
    }
  }
  loaded.set(file, result);
  return result;
}

type TensorInfo = tf.TensorInfo;

/** The product's geometry as tfjs's wasm BatchMatMul computes it (rank ≥ 2, outer dims broadcast). */
function geometry(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean) {
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const k = transposeA ? a.shape[aRank - 2]! : a.shape[aRank - 1]!;
  const kB = transposeB ? b.shape[bRank - 1]! : b.shape[bRank - 2]!;
  const m = transposeA ? a.shape[aRank - 1]! : a.shape[aRank - 2]!;
  const n = transposeB ? b.shape[bRank - 2]! : b.shape[bRank - 1]!;
  if (k !== kB) throw new Error(`Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return { m, n, k, batchA, batchB, batch: tf.util.sizeFromShape(outer), outer, outShape: [...outer, m, n] };
}

/**
 * For each item of the broadcast outer shape, the item of `dims` (an operand's outer dims) it reads:
 * numpy's rule, aligned from the right, a dimension of 1 repeated.
 */
function broadcastItems(dims: readonly number[], outer: readonly number[]): number[] {
  const aligned = [...new Array<number>(outer.length - dims.length).fill(1), ...dims];
  const items: number[] = [];
  const index = new Array<number>(outer.length).fill(0);
  for (let item = 0; item < tf.util.sizeFromShape([...outer]); item++) {
    let source = 0;
    for (let axis = 0; axis < outer.length; axis++) source = source * aligned[axis]! + (aligned[axis] === 1 ? 0 : index[axis]!);
    items.push(source);
    for (let axis = outer.length - 1; axis >= 0; axis--) {
      if (++index[axis]! < outer[axis]!) break;
      index[axis] = 0;
    }
  }
  return items;
}

function offsetOf(backend: BackendWasm, info: TensorInfo): number {
  // memoryOffset is in bytes; the addon counts float32 elements.
  return (backend.dataIdMap.get(info.dataId) as { memoryOffset: number }).memoryOffset / 4;
}

function product(gemm: NativeGemm, backend: BackendWasm, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, bias?: TensorInfo): TensorInfo {
  const g = geometry(a, b, transposeA, transposeB);
  const out = backend.makeOutput(g.outShape, 'float32');
  if (tf.util.sizeFromShape(g.outShape) === 0) return out;
  // The heap view is taken after makeOutput: an allocation that grows the heap detaches older views.
  const heap = new Float32Array(backend.typedArrayFromHeap(out).buffer);
  const cOffset = offsetOf(backend, out);
  if (bias) {
    // Every row of the output starts as the bias; beta = 1 adds the product to it.
    const row = heap.subarray(offsetOf(backend, bias), offsetOf(backend, bias) + g.n);
    for (let r = 0; r < g.batch * g.m; r++) heap.set(row, cOffset + r * g.n);
  }
  try {
    multiplyInto(gemm, heap, offsetOf(backend, a), offsetOf(backend, b), cOffset, g, a, b, transposeA, transposeB, bias !== undefined);
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
  return out;
}

/** The product's calls into the addon: one for a plain or simply broadcast batch, else one per output item. */
function multiplyInto(gemm: NativeGemm, heap: Float32Array, aOffset: number, bOffset: number, cOffset: number, g: ReturnType<typeof geometry>, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, withBias: boolean): void {
  const [ta, tb, beta] = [transposeA ? 1 : 0, transposeB ? 1 : 0, withBias ? 1 : 0];
  if ((g.batchA === g.batch || g.batchA === 1) && (g.batchB === g.batch || g.batchB === 1)) {
    // Each operand is the whole output batch (its outer dims are the output's) or one item repeated: one call.
    gemm.multiply(heap, aOffset, bOffset, cOffset, g.batch, g.batchA, g.batchB, g.m, g.n, g.k, ta, tb, beta);
  } else {
    // Operands broadcast along different axes ([2, 1] against [1, 3], or [1, 2]): one call per output item.
    const itemsA = broadcastItems(a.shape.slice(0, -2), g.outer);
    const itemsB = broadcastItems(b.shape.slice(0, -2), g.outer);
    for (let item = 0; item < g.batch; item++) {
      gemm.multiply(heap, aOffset + itemsA[item]! * g.m * g.k, bOffset + itemsB[item]! * g.k * g.n, cOffset + item * g.m * g.n, 1, 1, 1, g.m, g.n, g.k, ta, tb, beta);
    }
  }
}

/** SAGE_MATMUL is not one of its values, or `native` cannot be had: the backend does not start. */
export class NativeMatmulError extends ClipError {}

let installed: MatmulFacts | undefined;

/**
 * Replaces the wasm backend's BatchMatMul and _FusedMatMul with OpenBLAS's where the addon loads
 * (once per process; call before the backend is set). Returns what the products run on.
 */
export function installNativeMatmul(choice: MatmulChoice = (process.env.SAGE_MATMUL || 'auto') as MatmulChoice, file = defaultNativeGemmFile()): MatmulFacts {
  if (installed) return installed;
  if (!['auto', 'native', 'wasm'].includes(choice)) throw new NativeMatmulError(`SAGE_MATMUL must be auto, native or wasm, not "${choice}"`);
  if (choice === 'wasm') return (installed = { kernel: 'xnnpack', detail: 'SAGE_MATMUL=wasm' });
  const { gemm, reason } = loadNativeGemm(file);
  if (!gemm) {
    if (choice === 'native') throw new NativeMatmulError(`SAGE_MATMUL=native, but ${reason}`);
    return (installed = { kernel: 'xnnpack', detail: reason! });
  }
  if (!tf.getKernel('BatchMatMul', 'wasm') || !tf.getKernel('_FusedMatMul', 'wasm')) return (installed = { kernel: 'xnnpack', detail: 'the wasm backend has no BatchMatMul kernel to replace' });
  replaceWasmKernel('BatchMatMul', ({ inputs, backend, attrs }) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
    return product(gemm, backend as BackendWasm, a, b, Boolean(attrs?.transposeA), Boolean(attrs?.transposeB));
  });
  replaceWasmKernel('_FusedMatMul', ({ inputs, backend, attrs }) => {
    const { a, b, bias, preluActivationWeights } = inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const activation = (attrs?.activation as string | undefined) ?? 'linear';
    const n = attrs?.transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    // Only a bias of one row and no activation is done here; anything else stays XNNPACK's.
    const simpleBias = bias === undefined || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === n && bias.shape[bias.shape.length - 1] === n);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || activation !== 'linear' || preluActivationWeights || !simpleBias) return undefined;
    return product(gemm, backend as BackendWasm, a, b, Boolean(attrs?.transposeA), Boolean(attrs?.transposeB), bias);
  });
  const threading = ['serial', 'pthreads', 'OpenMP'][gemm.parallel ?? -1];
  return (installed = { kernel: 'openblas', detail: `${gemm.library.split(' ').slice(0, 2).join(' ')}${threading ? `, ${threading} build` : ''}, ${gemm.core} kernels` });
}

/** What installNativeMatmul chose; undefined before it ran (or on another backend). */
export function matmulFacts(): MatmulFacts | undefined {
  return installed;
}
