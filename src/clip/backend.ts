/**
 * Picks the fastest TensorFlow.js backend this process can load, in the order
 * tfjs-node-gpu → tfjs-node → wasm → cpu, and says which one in a single line.
 * The native bindings are optional: they are imported dynamically and only exist in
 * the training container, so a missing package simply falls through to the next.
 *
 * A job that needs one backend (`required`: the container's SAGE_REQUIRED_BACKEND=tensorflow)
 * tries only that one, and when it does not load the error says why: the import's own error,
 * whether a GPU is visible (nvidia-smi, /dev/nvidia*), and which CUDA, cuBLAS and cuDNN
 * libraries are on the library path. Loading is not enough: libtensorflow opens the CUDA libraries
 * only when it starts, and without them (or with a too-old driver) it runs on its CPU kernels under
 * the same `tensorflow` name, so a required backend must also be seen to take the GPU's memory.
 * `deviceFacts()` describes what was loaded for metrics.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { installNativeMatmul, matmulFacts, NativeMatmulError } from './native-matmul';
import { installWasmSliceKernels } from './wasm-kernels';
import { ClipError } from '../common/errors';
import type { DeviceFacts } from '../contracts/metrics';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface InitBackendOptions {
  /**
   * Force one backend instead of the first that loads (`SAGE_TFJS_BACKEND` when unset).
   * Default: automatic order tensorflow (GPU, then CPU binding) → wasm → cpu.
   */
  backend?: BackendName;
  /** Where the start-up line goes. Default: console.log. */
  log?: (line: string) => void;
  /**
   * The one backend this process may train on (the job's SAGE_REQUIRED_BACKEND): only it is
   * tried, and failing to load it throws ClipBackendUnavailableError with a diagnosis.
   */
  required?: BackendName;
  /** How the machine is looked at (tests inject a failing import, a fake nvidia-smi). */
  probe?: Partial<BackendProbe>;
}

/** What the backend code asks of the machine. */
export interface BackendProbe {
  /** Dynamic import of a package that may be missing or broken. */
  importModule(specifier: string): Promise<unknown>;
  /** Runs a command; throws when it is missing or fails. */
  run(command: string, args: readonly string[]): string;
  env: NodeJS.ProcessEnv;
  /** Lists a folder's file names; [] where it does not exist. */
  listDir(dir: string): string[];
  exists(file: string): boolean;
}

const defaultProbe: BackendProbe = {
  importModule: (specifier) => import(/* @vite-ignore */ specifier),
  run: (command, args) => execFileSync(command, [...args], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] }),
  env: process.env,
  listDir: (dir) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
  exists: (file) => existsSync(file),
};

/** One GPU as nvidia-smi reports it (memory in MiB). */
export interface GpuInfo {
  index: number;
  name: string;
  memoryMiB: number;
  usedMiB: number;
  driver: string;
}

/** Why the native backend did not load, for the error and the job's log. */
export interface NativeBackendDiagnosis {
  /** Per package tried: its import error's first lines, or what went wrong after it loaded. */
  imports: { specifier: string; error: string }[];
  /** GPUs nvidia-smi lists; empty with `gpuNote` saying why. */
  gpus: GpuInfo[];
  gpuNote: string;
  /** CUDA runtime, cuBLAS and cuDNN libraries found (file paths), by library. */
  libraries: Record<'cudart' | 'cublas' | 'cudnn', string[]>;
  /** The image's CUDA and cuDNN versions (CUDA_VERSION, NV_CUDNN_VERSION of the nvidia/cuda images), when set. */
  cudaVersion: string | null;
  cudnnVersion: string | null;
}

/** The requested backend could not be loaded. */
export class ClipBackendUnavailableError extends ClipError {
  constructor(
    readonly requested: string,
    reason: string,
    readonly diagnosis?: NativeBackendDiagnosis,
  ) {
    super(`tfjs backend "${requested}" is not available (expected one of tensorflow, wasm, cpu that loads here): ${reason}${diagnosis ? `\n${describeDiagnosis(diagnosis)}` : ''}`, { kind: 'failure' });
    this.name = 'ClipBackendUnavailableError';
  }
}

const require = createRequire(import.meta.url);
let chosen: Promise<string> | undefined;
/** nvidia-smi's view before the native backend loads (TensorFlow then reserves most of the GPU's memory itself). */
let gpusAtStart: GpuInfo[] | undefined;
/** Why TensorFlow, loaded in the automatic order with a GPU visible, is seen running on the CPU. */
let tensorflowCpuOnly: string | undefined;

/**
 * Undefined when the tensorflow backend uses the GPU (or none is visible); otherwise why it is seen
 * on its CPU kernels (the GPU's memory did not move after its first op). `sage doctor` reports it
 * instead of GPU figures.
 */
export function tensorflowOnCpu(): string | undefined {
  return tf.getBackend() === 'tensorflow' ? tensorflowCpuOnly : undefined;
}
let nativePackage: string | undefined;

function firstLines(error: unknown, lines = 3): string {
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.split('\n').filter((line) => line.trim().length > 0 && !/^\s*at /.test(line)).slice(0, lines).join(' | ') || 'unknown error';
}

/** Imports a package that may not be installed; resolves to its error where it is absent or broken. */
async function tryImport(probe: BackendProbe, specifier: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await probe.importModule(specifier);
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: firstLines(error) };
  }
}

/** The GPUs nvidia-smi lists (CUDA_VISIBLE_DEVICES order is the process's; nvidia-smi's own index is kept). */
export function queryGpus(probe: Pick<BackendProbe, 'run'> = defaultProbe): GpuInfo[] {
  const out = probe.run('nvidia-smi', ['--query-gpu=index,name,memory.total,memory.used,driver_version', '--format=csv,noheader,nounits']);
  return out
    .split('\n')
    .map((line) => line.split(',').map((field) => field.trim()))
    .filter((fields) => fields.length >= 5 && /^\d+$/.test(fields[0]!))
    .map(([index, name, total, used, driver]) => ({ index: Number(index), name: name!, memoryMiB: Number(total), usedMiB: Number(used), driver: driver! }));
}

function libraryDirs(env: NodeJS.ProcessEnv): string[] {
  const fromEnv = (env.LD_LIBRARY_PATH ?? '').split(':').filter((dir) => dir.length > 0);
  const standard = ['/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib', '/usr/local/nvidia/lib64', '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/lib/x86_64-linux-gnu'];
  return [...new Set([...fromEnv, ...standard])];
}

/** Looks at the machine for what the native backend needs; never throws. */
export function diagnoseNativeBackend(imports: NativeBackendDiagnosis['imports'], probeOverrides: Partial<BackendProbe> = {}): NativeBackendDiagnosis {
  const probe = { ...defaultProbe, ...probeOverrides };
  let gpus: GpuInfo[] = [];
  let gpuNote: string;
  try {
    gpus = queryGpus(probe);
    gpuNote = gpus.length > 0 ? `nvidia-smi lists ${gpus.length} GPU(s)` : 'nvidia-smi lists no GPU';
  } catch (error) {
    const devices = probe.exists('/dev/nvidia0') ? '/dev/nvidia0 exists' : 'no /dev/nvidia0 (run the container with --gpus all, or on a GPU instance)';
    gpuNote = `nvidia-smi failed (${firstLines(error, 1)}); ${devices}`;
  }
  const libraries: NativeBackendDiagnosis['libraries'] = { cudart: [], cublas: [], cudnn: [] };
  const patterns: Record<keyof NativeBackendDiagnosis['libraries'], RegExp> = { cudart: /^libcudart\.so/, cublas: /^libcublas\.so/, cudnn: /^libcudnn\.so/ };
  for (const dir of libraryDirs(probe.env)) {
    for (const file of probe.listDir(dir)) {
      for (const [name, pattern] of Object.entries(patterns) as [keyof NativeBackendDiagnosis['libraries'], RegExp][]) {
        if (pattern.test(file)) libraries[name].push(path.join(dir, file));
      }
    }
  }
  return {
    imports,
    gpus,
    gpuNote,
    libraries,
    cudaVersion: probe.env.CUDA_VERSION ?? null,
    cudnnVersion: probe.env.NV_CUDNN_VERSION ?? probe.env.CUDNN_VERSION ?? null,
  };
}

/** The diagnosis as lines for a person. */
export function describeDiagnosis(diagnosis: NativeBackendDiagnosis): string {
  const found = (files: string[]) => (files.length > 0 ? files.slice(0, 4).join(', ') + (files.length > 4 ? `, … (${files.length})` : '') : 'none found');
  return [
    ...diagnosis.imports.map((i) => `  import ${i.specifier}: ${i.error}`),
    `  GPU: ${diagnosis.gpus.length > 0 ? diagnosis.gpus.map((g) => `${g.name} (${g.memoryMiB} MiB, driver ${g.driver})`).join('; ') : diagnosis.gpuNote}`,
    `  CUDA runtime (libcudart): ${found(diagnosis.libraries.cudart)}${diagnosis.cudaVersion ? `; CUDA_VERSION ${diagnosis.cudaVersion}` : ''}`,
    `  cuBLAS (libcublas): ${found(diagnosis.libraries.cublas)}`,
    `  cuDNN (libcudnn): ${found(diagnosis.libraries.cudnn)}${diagnosis.cudnnVersion ? `; cuDNN ${diagnosis.cudnnVersion}` : ''}`,
    '  libtensorflow 2.9.1 (tfjs-node-gpu 4.22) needs the CUDA 11 runtime (11.2 or later), cuBLAS 11 and cuDNN 8 (8.1 or later)',
  ].join('\n');
}

/**
 * How much nvidia-smi's memory.used must rise on a GPU for TensorFlow to count as running on it.
 * tfjs-node creates its TensorFlow context with default options (no allow_growth; the image sets no
 * TF_FORCE_GPU_ALLOW_GROWTH), so TF's BFC allocator reserves most of the GPU at its first allocation:
 * gigabytes. Even with growth allowed, the CUDA 11 context alone takes some 300 MiB. An idle GPU's reading
 * moves by a few MiB. 256 MiB lies well between the two.
 */
export const GPU_MEMORY_RISE_MIB = 256;
/** Side of the square matMul that makes TensorFlow place an op (and allocate) on its device; small, for it runs on the CPU where the check fails. */
const PLACEMENT_PROBE_SIZE = 256;

function formatMiB(value: number): string {
  return Number.isFinite(value) ? String(value) : '?';
}

/**
 * Whether the native backend that just started really runs on a GPU: after one op that forces device
 * placement, some GPU's memory.used must have risen by GPU_MEMORY_RISE_MIB since before TensorFlow
 * loaded. The memory, not nvidia-smi's process list, because inside a container the PID namespace hides
 * the processes. Returns undefined when it does, else why not, with the figures.
 */
function gpuNotInUse(probe: BackendProbe, before: GpuInfo[]): string | undefined {
  if (before.length === 0) return 'nvidia-smi listed no GPU before TensorFlow loaded';
  try {
    const product = tf.tidy(() => tf.matMul(tf.ones([PLACEMENT_PROBE_SIZE, PLACEMENT_PROBE_SIZE]), tf.ones([PLACEMENT_PROBE_SIZE, PLACEMENT_PROBE_SIZE])));
    try {
      product.dataSync();
    } finally {
      product.dispose();
    }
  } catch (error) {
    return `its first op (a ${PLACEMENT_PROBE_SIZE}×${PLACEMENT_PROBE_SIZE} matMul) failed: ${firstLines(error, 1)}`;
  }
  let after: GpuInfo[];
  try {
    after = queryGpus(probe);
  } catch (error) {
    return `nvidia-smi failed after its first op (${firstLines(error, 1)})`;
  }
  const rises = before.map((gpu) => {
    const now = after.find((g) => g.index === gpu.index);
    return { gpu, now, rise: now ? now.usedMiB - gpu.usedMiB : Number.NaN };
  });
  if (rises.some((r) => r.rise >= GPU_MEMORY_RISE_MIB)) return undefined;
  // nvidia-smi reads "[N/A]" for memory.used on some GPUs (MIG slices, some drivers): nothing to judge by, so not judged.
  if (rises.every((r) => !Number.isFinite(r.rise))) return undefined;
  const figures = rises
    .map(({ gpu, now, rise }) => `GPU ${gpu.index} ${gpu.name}: ${formatMiB(gpu.usedMiB)} → ${now ? formatMiB(now.usedMiB) : 'no longer listed'} MiB used of ${formatMiB(gpu.memoryMiB)} (${Number.isFinite(rise) ? `+${rise}` : '?'} MiB)`)
    .join('; ');
  return `after a ${PLACEMENT_PROBE_SIZE}×${PLACEMENT_PROBE_SIZE} matMul nvidia-smi's memory.used rose by less than the ${GPU_MEMORY_RISE_MIB} MiB a CUDA context and TensorFlow's allocator take (${figures})`;
}

/**
 * Loads the native binding. With `expectGpu` (a job that requires tensorflow) it must also be seen on the
 * GPU; TensorFlow that loaded but runs on the CPU is refused here, without trying the CPU-only binding.
 */
async function tryNative(probe: BackendProbe, notes: string[], failures: NativeBackendDiagnosis['imports'], expectGpu: boolean): Promise<boolean> {
  // Before TensorFlow loads: afterwards nvidia-smi shows its own reservation as used.
  try {
    gpusAtStart = queryGpus(probe);
  } catch {
    gpusAtStart = [];
  }
  for (const specifier of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    const result = await tryImport(probe, specifier);
    if (result.ok && (await tf.setBackend('tensorflow').catch(() => false))) {
      // Looked at whenever a GPU is visible; only a job that requires the GPU is refused for it.
      const cpuOnly = expectGpu || gpusAtStart.length > 0 ? gpuNotInUse(probe, gpusAtStart) : undefined;
      if (cpuOnly !== undefined && !expectGpu) {
        notes.push(`via ${specifier}, on the CPU although nvidia-smi lists a GPU: ${cpuOnly}`);
        nativePackage = specifier;
        tensorflowCpuOnly = cpuOnly;
        return true;
      }
      if (cpuOnly !== undefined) {
        notes.push(`TensorFlow loaded (${specifier}) but runs on the CPU: ${cpuOnly}; TensorFlow's own log above says which library it could not load ("Could not load dynamic library …")`);
        failures.push({ specifier, error: 'loaded and started, but on the CPU (no GPU in use)' });
        return false;
      }
      notes.push(`via ${specifier}`);
      nativePackage = specifier;
      return true;
    }
    const error = result.ok ? 'loaded, but the tensorflow backend did not start' : result.reason;
    failures.push({ specifier, error });
    notes.push(`${specifier}: ${result.ok ? 'loaded but the backend did not start' : /Cannot find (package|module)/.test(result.reason) ? 'not installed' : result.reason}`);
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
    const matmul = installNativeMatmul();
    if (!(await tf.setBackend('wasm'))) throw new Error('initialisation failed');
    notes.push(`matrix products: ${matmul.kernel === 'openblas' ? matmul.detail : `XNNPACK (${matmul.detail})`}`);
    return true;
  } catch (error) {
    // A setting that asks for what cannot be had is the user's to fix, not a reason to fall through to the cpu backend.
    if (error instanceof NativeMatmulError) throw error;
    notes.push(`wasm: ${(error as Error).message.split('\n')[0]}`);
    return false;
  }
}

async function select(options: InitBackendOptions): Promise<string> {
  const probe: BackendProbe = { ...defaultProbe, ...options.probe };
  const requested = options.required ?? options.backend ?? ((process.env.SAGE_TFJS_BACKEND || undefined) as BackendName | undefined);
  const notes: string[] = [];
  const failures: NativeBackendDiagnosis['imports'] = [];
  const attempts: Record<BackendName, () => Promise<boolean>> = {
    // Only a job's requirement expects a GPU: a laptop's tfjs-node (CPU) is a fine choice in the automatic order.
    tensorflow: () => tryNative(probe, notes, failures, options.required === 'tensorflow'),
    wasm: () => tryWasm(notes),
    cpu: async () => tf.setBackend('cpu'),
  };
  if (requested !== undefined) {
    if (!(requested in attempts)) throw new ClipBackendUnavailableError(requested, 'unknown backend name');
    if (!(await attempts[requested]())) {
      const diagnosis = options.required === 'tensorflow' ? diagnoseNativeBackend(failures, probe) : undefined;
      throw new ClipBackendUnavailableError(requested, `${options.required ? 'this job requires it (SAGE_REQUIRED_BACKEND) and will not train on another; ' : ''}${notes.join('; ')}`, diagnosis);
    }
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
export async function initBackend(options: InitBackendOptions = {}): Promise<string> {
  chosen ??= select(options).catch((error: unknown) => {
    chosen = undefined;
    throw error;
  });
  const name = await chosen;
  // A process cannot switch backends: one that already runs another cannot serve a job that requires this one.
  if (options.required && name !== options.required) throw new ClipBackendUnavailableError(options.required, `this process already runs on ${name} and cannot switch`);
  return name;
}

async function wasmVersion(): Promise<string | undefined> {
  try {
    return ((await import('@tensorflow/tfjs-backend-wasm')) as { version_wasm?: string }).version_wasm;
  } catch {
    return undefined;
  }
}

/**
 * What the process trains on, for metrics.json and `sage doctor`: the backend, the GPU it uses
 * (nvidia-smi's view from before TensorFlow loaded: name, memory, driver, and the image's CUDA
 * runtime version) and the tfjs packages' versions. Call after initBackend.
 */
export async function deviceFacts(probeOverrides: Partial<BackendProbe> = {}): Promise<DeviceFacts> {
  const probe = { ...defaultProbe, ...probeOverrides };
  const backend = tf.getBackend();
  const tfjs: Record<string, string> = {};
  for (const [name, version] of Object.entries(tf.version)) if (typeof version === 'string') tfjs[name] = version;
  const wasm = await wasmVersion();
  if (wasm) tfjs['tfjs-backend-wasm'] = wasm;
  let gpu: DeviceFacts['gpu'];
  if (backend === 'tensorflow') {
    if (nativePackage) {
      try {
        const native = (await probe.importModule(nativePackage)) as { version?: Record<string, string> | string };
        if (typeof native.version === 'string') tfjs[nativePackage.replace('@tensorflow/', '')] = native.version;
        else if (native.version) Object.assign(tfjs, native.version);
      } catch {
        // Loaded once already; a second look failing changes nothing.
      }
      tfjs.native = nativePackage;
      const library = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding?.TF_Version;
      if (typeof library === 'string') tfjs.libtensorflow = library;
    }
    const visible = (probe.env.CUDA_VISIBLE_DEVICES ?? '').split(',')[0]?.trim();
    const gpus = gpusAtStart ?? [];
    const mine = gpus.find((g) => String(g.index) === visible) ?? gpus[0];
    if (mine && tensorflowCpuOnly === undefined) gpu = { name: mine.name, memoryMiB: mine.memoryMiB, usedMiB: mine.usedMiB, driver: mine.driver, ...(probe.env.CUDA_VERSION ? { cuda: probe.env.CUDA_VERSION } : {}), count: gpus.length };
  }
  const matmul = backend === 'wasm' ? matmulFacts() : undefined;
  return { backend, ...(gpu ? { gpu } : {}), tfjs, ...(matmul ? { matmul } : {}) };
}
