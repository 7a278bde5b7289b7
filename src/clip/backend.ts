/**
 * Picks the fastest TensorFlow.js backend this process can load, in the order
 * tfjs-node-gpu → tfjs-node → wasm → cpu, and says which one in a single line.
 * The native bindings are optional: they are imported dynamically and only exist in
 * the training container, so a missing package simply falls through to the next.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { installWasmSliceKernels } from './wasm-kernels';
import { ClipError } from '../common/errors';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface InitBackendOptions {
  /**
   * Force one backend instead of the first that loads (`SAGE_TFJS_BACKEND` when unset).
   * Default: automatic order tensorflow (GPU, then CPU binding) → wasm → cpu.
   */
  backend?: BackendName;
  /** Where the start-up line goes. Default: console.log. */
  log?: (line: string) => void;
}

/** The requested backend could not be loaded. */
export class ClipBackendUnavailableError extends ClipError {
  constructor(requested: string, reason: string) {
    super(`tfjs backend "${requested}" is not available (expected one of tensorflow, wasm, cpu that loads here): ${reason}`, { kind: 'failure' });
    this.name = 'ClipBackendUnavailableError';
  }
}

const require = createRequire(import.meta.url);
let chosen: Promise<string> | undefined;

/** Imports a package that may not be installed; resolves to false where it is absent or broken. */
async function tryImport(specifier: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await import(/* @vite-ignore */ specifier);
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: (error as Error).message.split('\n')[0] ?? 'unknown error' };
  }
}

async function tryNative(notes: string[]): Promise<boolean> {
  for (const specifier of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    const result = await tryImport(specifier);
    if (result.ok && (await tf.setBackend('tensorflow').catch(() => false))) {
      notes.push(`via ${specifier}`);
      return true;
    }
    notes.push(`${specifier}: ${result.ok ? 'loaded but the backend did not start' : 'not installed'}`);
  }
  return false;
}

async function tryWasm(notes: string[]): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Load the .wasm binaries from node_modules, never from a CDN: point the backend at its own dist folder.
    const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(`${distDir}${path.sep}`);
    installWasmSliceKernels();
    if (!(await tf.setBackend('wasm'))) throw new Error('initialisation failed');
    return true;
  } catch (error) {
    notes.push(`wasm: ${(error as Error).message.split('\n')[0]}`);
    return false;
  }
}

async function select(options: InitBackendOptions): Promise<string> {
  const requested = options.backend ?? ((process.env.SAGE_TFJS_BACKEND || undefined) as BackendName | undefined);
  const notes: string[] = [];
  const attempts: Record<BackendName, () => Promise<boolean>> = {
    tensorflow: () => tryNative(notes),
    wasm: () => tryWasm(notes),
    cpu: async () => tf.setBackend('cpu'),
  };
  if (requested !== undefined) {
    if (!(requested in attempts)) throw new ClipBackendUnavailableError(requested, 'unknown backend name');
    if (!(await attempts[requested]())) throw new ClipBackendUnavailableError(requested, notes.join('; '));
  } else {
    let loaded = false;
    for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
      if (await attempts[name]()) {
        loaded = true;
        break;
      }
    }
    if (!loaded) throw new ClipBackendUnavailableError('any', notes.join('; '));
  }
  await tf.ready();
  const name = tf.getBackend();
  (options.log ?? console.log)(`tfjs backend: ${name} (tfjs ${tf.version.tfjs}${notes.length > 0 ? `; ${notes.join('; ')}` : ''})`);
  return name;
}

/**
 * Chooses and initialises the backend once per process; later calls return the same
 * name. Resolves to the backend's tfjs name (`tensorflow`, `wasm` or `cpu`).
 */
export function initBackend(options: InitBackendOptions = {}): Promise<string> {
  chosen ??= select(options).catch((error: unknown) => {
    chosen = undefined;
    throw error;
  });
  return chosen;
}
