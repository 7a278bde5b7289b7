/**
 * Read-modify-write of a manifest's summary.json under S3 conditional writes: the first
 * writer uses If-None-Match, later ones If-Match on the etag they read, and a lost race
 * re-reads and re-applies the change. Two runs finishing at once therefore both land.
 */
import { SUMMARY_VERSION, Summary, type SummaryRow } from '../contracts/summary';
import { PreconditionFailedError, type ObjectStore } from '../storage';
import { readDocument, toJson } from './documents';
import { PipelineContentionError } from './errors';

export interface SummaryUpdateOptions {
  /** Conditional writes tried before giving up. Default 10. */
  maxAttempts?: number;
  /** Wait before retry n (1-based), in ms. Default: 20·2^n ms with ±50 % jitter, capped at 1 s. */
  backoffMs?: (attempt: number) => number;
  /** The summary's updatedAt when a write happens. */
  now: () => Date;
}

export interface SummaryUpdateResult {
  summary: Summary;
  /** False when the change was already there (a repeated event): nothing was written. */
  written: boolean;
  etag: string;
}

/**
 * How a row arrives, which decides what it may replace:
 * - `job`: a job's own terminal event; wins over anything.
 * - `state`: a job's own non-terminal event (SUBMITTED, RUNNABLE, RUNNING); never replaces a
 *   terminal row or one from a later event (EventBridge does not keep order).
 * - `array-parent`: a failed array parent speaking for children that never reported; never
 *   replaces a terminal row.
 * - `placeholder`: a row for a child nothing has been heard of yet; only fills a gap.
 */
export type RowSource = 'job' | 'state' | 'array-parent' | 'placeholder';

function isTerminal(row: SummaryRow): boolean {
  return row.status === 'SUCCEEDED' || row.status === 'FAILED';
}

const STATUS_RANK: Record<SummaryRow['status'], number> = { SUBMITTED: 0, RUNNABLE: 1, RUNNING: 2, SUCCEEDED: 3, FAILED: 3 };

/** Whether a non-terminal update is older than the row it would replace. */
function isStale(current: SummaryRow, update: SummaryRow): boolean {
  if (!current.statusAt || !update.statusAt) return false;
  if (update.statusAt !== current.statusAt) return update.statusAt < current.statusAt;
  return STATUS_RANK[update.status] < STATUS_RANK[current.status];
}

function mayReplace(current: SummaryRow | undefined, update: SummaryRow, source: RowSource): boolean {
  if (!current) return true;
  if (source === 'job') return true;
  if (source === 'placeholder' || isTerminal(current)) return false;
  return source !== 'state' || !isStale(current, update);
}

function rowKey(row: Pick<SummaryRow, 'runId' | 'sweepIndex'>): string {
  return `${row.runId}\u0000${row.sweepIndex}`;
}

function compareRows(a: SummaryRow, b: SummaryRow): number {
  const byTime = (a.submittedAt ?? '').localeCompare(b.submittedAt ?? '');
  if (byTime !== 0) return byTime;
  const byRun = a.runId.localeCompare(b.runId);
  return byRun !== 0 ? byRun : a.sweepIndex - b.sweepIndex;
}

/** Stable JSON for equality checks, whatever the key order of the inputs. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/**
 * Merges rows into a row list; returns null when nothing changes. A row keeps the
 * submittedAt it had (the submission knows it best) when the update lacks one.
 */
export function mergeRows(existing: readonly SummaryRow[], updates: readonly SummaryRow[], source: RowSource): SummaryRow[] | null {
  const byKey = new Map(existing.map((row) => [rowKey(row), row]));
  let changed = false;
  for (const update of updates) {
    const current = byKey.get(rowKey(update));
    if (!mayReplace(current, update, source)) continue;
    const merged: SummaryRow = current ? { ...current, ...update, submittedAt: update.submittedAt ?? current.submittedAt } : update;
    // A finished row keeps no progress: it describes the run's end.
    if (isTerminal(merged)) delete merged.progress;
    if (!current || canonical(current) !== canonical(merged)) {
      byKey.set(rowKey(update), merged);
      changed = true;
    }
  }
  return changed ? [...byKey.values()].sort(compareRows) : null;
}

function defaultBackoff(attempt: number): number {
  const base = Math.min(1000, 20 * 2 ** attempt);
  return base * (0.5 + Math.random());
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function readSummary(store: ObjectStore, uri: string): Promise<Summary | null> {
  return (await readDocument(store, uri, Summary))?.value ?? null;
}

/**
 * Updates of one summary from the same process run one after another. Conditional writes
 * already settle races between processes (Lambdas); this also covers stores whose
 * conditional writes are only as good as a check before the write (the local folder
 * store of the one-machine pipeline, whose sweep children may finish at once).
 */
const pending = new Map<string, Promise<unknown>>();

async function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = pending.get(key) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  pending.set(key, settled);
  try {
    return await next;
  } finally {
    if (pending.get(key) === settled) pending.delete(key);
  }
}

/** Applies `rows` to the summary at `uri`, creating it for `manifestName` if absent. */
export async function upsertSummaryRows(
  store: ObjectStore,
  uri: string,
  manifestName: string,
  rows: readonly SummaryRow[],
  source: RowSource,
  options: SummaryUpdateOptions,
): Promise<SummaryUpdateResult> {
  return oneAtATime(uri, () => upsertWithRetries(store, uri, manifestName, rows, source, options));
}

async function upsertWithRetries(
  store: ObjectStore,
  uri: string,
  manifestName: string,
  rows: readonly SummaryRow[],
  source: RowSource,
  options: SummaryUpdateOptions,
): Promise<SummaryUpdateResult> {
  const maxAttempts = options.maxAttempts ?? 10;
  const backoff = options.backoffMs ?? defaultBackoff;
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    const stored = await readDocument(store, uri, Summary);
    const current: Summary = stored?.value ?? { version: SUMMARY_VERSION, manifestName, updatedAt: options.now().toISOString(), rows: [] };
    const merged = mergeRows(current.rows, rows, source);
    if (!merged && stored) return { summary: current, written: false, etag: stored.etag };
    const next: Summary = { ...current, updatedAt: options.now().toISOString(), rows: merged ?? current.rows };
    try {
      const etag = await store.put(uri, toJson(next), {
        contentType: 'application/json',
        ...(stored ? { ifMatch: stored.etag } : { ifNoneMatch: '*' as const }),
      });
      return { summary: next, written: true, etag };
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      if (attempt < maxAttempts) await sleep(backoff(attempt));
    }
  }
  throw new PipelineContentionError(uri, maxAttempts);
}
