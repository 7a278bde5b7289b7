/** Number formatting shared by the report formats: percentages as the paper prints them. */
import type { PaperValue } from '../repro/paper';
import type { PaperParameters } from './facts';

/** 0.8331 → "83.3"; null/undefined → "–". */
export function formatPercent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? '–' : (value * 100).toFixed(digits);
}

/** 7299240 → "7.30", 617868 → "0.62", 2990 → "0.0030", 0 → "0" (millions; below 1 M two significant digits). */
export function formatMillions(count: number | undefined): string {
  if (count === undefined) return '–';
  if (count === 0) return '0';
  const millions = count / 1e6;
  return millions >= 1 ? millions.toFixed(2) : millions.toPrecision(2);
}

export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

/** A paper figure as printed: 81.7; "–" where the paper reports none; "empty" for a group with no class. */
export function formatPaperValue(value: PaperValue | undefined): string {
  if (value === undefined || value === 'not-reported') return '–';
  if (value === 'empty-group') return 'empty';
  return value.toFixed(1);
}

/**
 * Ours minus the paper's, in points, from the figures as printed (so 81.66 against 81.7
 * reads 0.0, as the two printed numbers do): "+0.4", "-1.2", "0.0"; "–" when either is missing.
 */
export function formatPaperDelta(ours: number | null | undefined, paper: PaperValue | undefined): string {
  if (ours === null || ours === undefined || typeof paper !== 'number') return '–';
  const tenths = Math.round(ours * 1000) - Math.round(paper * 10);
  if (tenths === 0) return '0.0';
  return `${tenths > 0 ? '+' : '-'}${(Math.abs(tenths) / 10).toFixed(1)}`;
}

/**
 * A row's state for people: `SUCCEEDED`, `SUCCEEDED (diverged)` when its loss diverged, and
 * `RUNNING (epoch 3/10, step 40/85)` or `RUNNABLE (...)` while a run is between attempts.
 */
const PRE_RUNNING = new Set(['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING']);

export function statusLabel(run: { row: { status: string; progress?: { epoch: number; epochs: number; step: number; stepsPerEpoch: number } }; diverged?: unknown }): string {
  const { status, progress } = run.row;
  if (run.diverged) return `${status} (diverged)`;
  const at = progress ? `epoch ${progress.epoch + 1}/${progress.epochs}, step ${progress.step}/${progress.stepsPerEpoch}` : '';
  if (progress && status === 'RUNNING') return `RUNNING (${at})`;
  // A run with a checkpoint that Batch is starting again (the next attempt): still running, between attempts.
  if (progress && PRE_RUNNING.has(status)) return `RUNNING (between attempts: Batch ${status}; ${at})`;
  return status;
}

/** The paper's "Params (M)": 6.96, 0.10, 0.012; "0" for an untrained method. */
export function formatPaperParameters(parameters: PaperParameters | undefined): string {
  if (!parameters) return '–';
  const { millions } = parameters;
  if (millions === 0) return '0';
  return millions >= 0.1 ? millions.toFixed(2) : millions.toPrecision(2);
}

/** 42.3 → "42.3 s", 245 → "4 min 05 s", 8000 → "2 h 13 min"; undefined → "–". */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** GPU-hours: 12.4, 0.83, 0.0042; undefined → "–". */
export function formatHours(hours: number | undefined): string {
  if (hours === undefined) return '–';
  if (hours === 0) return '0';
  return hours >= 10 ? hours.toFixed(1) : hours >= 0.1 ? hours.toFixed(2) : hours.toPrecision(2);
}

/** A number as written in settings: 0.01, 5e-4. */
export function formatSetting(value: number | null | undefined): string {
  if (value === undefined) return '–';
  if (value === null) return '–';
  return String(value);
}
