/**
 * The paper's set-up of a row and what a run did differently: the row's settings over the
 * dataset's Table 8 preset are what the paper ran (SPEC section 2); any other value a run
 * used (fewer epochs, no TTE, another learning rate) is a difference the report states.
 */
import { resolveSettings, type Components, type Settings } from '../contracts/settings';
import type { PaperDataset } from './datasets';
import type { ReproRow } from './tables';

/**
 * Settings that do not change what is computed: micro-batches accumulate to the same
 * effective batch (and replicas share them out), the paper gives no seed, and evaluating during training changes no weight
 * (`keep: best`, which does change the reported weights, is a difference).
 */
const NOT_A_DIFFERENCE: ReadonlySet<string> = new Set(['microBatchSize', 'seed', 'evalEvery', 'keepMetric', 'replicas']);

/** The settings the paper ran this row with. */
export function paperSettings(row: Pick<ReproRow, 'overrides'>, dataset: PaperDataset): Settings {
  return resolveSettings({ preset: dataset }, row.overrides);
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));
  return a === b;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * `epochs 1 (paper 10)` for every setting the run used that differs from the paper's; the
 * run's resolved settings come from its metrics.json (`config`). Unknown keys are ignored.
 */
export function settingsDifferences(used: Readonly<Record<string, unknown>>, paper: Settings): string[] {
  const out: string[] = [];
  for (const [key, expected] of Object.entries(paper)) {
    if (NOT_A_DIFFERENCE.has(key) || !(key in used)) continue;
    if (key === 'components') {
      const components = used.components as Partial<Components> | undefined;
      for (const [name, on] of Object.entries(expected as Components)) {
        const actual = components?.[name as keyof Components];
        if (actual !== undefined && actual !== on) out.push(`components.${name} ${show(actual)} (paper ${show(on)})`);
      }
      continue;
    }
    if (!same(used[key], expected)) out.push(`${key} ${show(used[key])} (paper ${show(expected)})`);
  }
  return out;
}

/**
 * The backend line: the paper ran PyTorch on a GPU; ours runs tfjs, whose `tensorflow`
 * backend is the GPU job's. Another backend (the CPU's wasm or cpu) is a difference.
 */
export function backendDifference(backend: string): string | undefined {
  return backend === 'tensorflow' ? undefined : `backend ${backend} (CPU; the paper: PyTorch on a GPU)`;
}
