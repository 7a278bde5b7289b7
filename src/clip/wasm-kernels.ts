/**
 * Faster Slice / SplitV / Unpack kernels for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 implements these in JavaScript and starts each slice with
 * `backend.readSync(x)`, which copies the WHOLE input out of the wasm heap. Splitting
 * a tensor into k pieces therefore copies it k times: attention (one piece per sample
 * and head) became quadratic in the batch size (256 text prompts: minutes per call).
 * These replacements read the input through a view of the heap and copy only the
 * requested elements. Behaviour is otherwise the same; string tensors go to the
 * original kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TensorInfo = tf.TensorInfo;

/** Row-major strides of `shape`, including the last axis (stride 1). */
function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let axis = shape.length - 2; axis >= 0; axis--) strides[axis] = strides[axis + 1]! * shape[axis + 1]!;
  return strides;
}

/** Copies the box `[begin, begin + size)` of x into a new tensor, touching only those elements. */
function sliceByView(x: TensorInfo, begin: readonly number[], size: readonly number[], backend: BackendWasm): TensorInfo {
  const out = backend.makeOutput([...size], x.dtype);
  const count = size.reduce((a, b) => a * b, 1);
  if (count === 0) return out;
  // Views are taken after makeOutput: an allocation that grows the heap detaches older views.
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  const strides = stridesOf(x.shape);
  // The trailing axes taken whole, plus the last partial one, form one contiguous run.
  let axis = x.shape.length - 1;
  let run = 1;
  while (axis >= 0 && begin[axis] === 0 && size[axis] === x.shape[axis]) run *= x.shape[axis--]!;
  if (axis < 0) {
    target.set(source.subarray(0, count));
    return out;
  }
  run *= size[axis]!;
  const base = begin.reduce((offset, b, i) => offset + b * strides[i]!, 0);
  const outer = size.slice(0, axis);
  const index = new Array<number>(outer.length).fill(0);
  for (let written = 0; written < count; written += run) {
    let offset = base;
    for (let i = 0; i < index.length; i++) offset += index[i]! * strides[i]!;
    target.set(source.subarray(offset, offset + run), written);
    for (let i = index.length - 1; i >= 0; i--) {
      if (++index[i]! < outer[i]!) break;
      index[i] = 0;
    }
  }
  return out;
}

export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

function slice({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const x = inputs.x!;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs!.begin as number[], attrs!.size as number[]);
  return sliceByView(x, begin, size, backend as BackendWasm);
}

function splitV({ inputs, backend, attrs }: KernelArgs): TensorInfo[] {
  const x = inputs.x!;
  const axis = tf.util.parseAxisParam(attrs!.axis as number, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs!.numOrSizeSplits as number[] | number, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((piece) => {
    const size = [...x.shape];
    size[axis] = piece;
    const out = sliceByView(x, begin, size, backend as BackendWasm);
    begin[axis]! += piece;
    return out;
  });
}

function unpack({ inputs, backend, attrs }: KernelArgs): TensorInfo[] {
  const value = inputs.value!;
  const rank = value.shape.length;
  const axis = (attrs!.axis as number) < 0 ? (attrs!.axis as number) + rank : (attrs!.axis as number);
  const outShape = value.shape.filter((_, i) => i !== axis);
  const begin = new Array<number>(rank).fill(0);
  const size = [...value.shape];
  size[axis] = 1;
  return Array.from({ length: value.shape[axis]! }, (_, i) => {
    begin[axis] = i;
    const { dataId, dtype } = sliceByView(value, begin, size, backend as BackendWasm);
    return { dataId, dtype, shape: outShape };
  });
}

/**
 * Re-registers the wasm backend's `kernelName` (false where it has none): `ours` answers, or
 * returns undefined to leave the call to the original kernel, whose set-up is kept.
 */
export function replaceWasmKernel(kernelName: string, ours: (args: KernelArgs) => TensorInfo | TensorInfo[] | undefined): boolean {
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original) return false;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc: (args) => ours(args as KernelArgs) ?? original.kernelFunc(args) });
  return true;
}

const replacements: Record<string, (args: KernelArgs) => TensorInfo | TensorInfo[]> = { Slice: slice, SplitV: splitV, Unpack: unpack };
let installed = false;

/** Replaces the wasm backend's Slice, SplitV and Unpack kernels (once per process). */
export function installWasmSliceKernels(): void {
  if (installed) return;
  installed = true;
  for (const [kernelName, replacement] of Object.entries(replacements)) {
    replaceWasmKernel(kernelName, (args) => (Object.values(args.inputs)[0]?.dtype === 'string' ? undefined : replacement(args)));
  }
}
