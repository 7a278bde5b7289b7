import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SummaryRow } from '../../src/contracts/summary';
import { mergeRows, readSummary, upsertSummaryRows } from '../../src/pipeline/summary-store';
import { LocalObjectStore } from '../../src/storage';
import { MemoryObjectStore } from './helpers';

const row = (runId: string, sweepIndex: number, status: SummaryRow['status'], extra: Partial<SummaryRow> = {}): SummaryRow => ({
  runId,
  sweepIndex,
  status,
  method: 'sage',
  overrides: {},
  submittedAt: `2026-11-29T10:0${sweepIndex}:00.000Z`,
  ...extra,
});
const now = () => new Date('2026-11-29T12:00:00.000Z');

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('summary updates', () => {
  it('keeps every row when many updates race, on S3-like and on local-folder stores', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'summary-'));
    for (const [store, uri] of [
      [new MemoryObjectStore(), 's3://results/summaries/x/summary.json'],
      [new LocalObjectStore(), path.join(dir, 'summaries', 'x', 'summary.json')],
    ] as const) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => upsertSummaryRows(store, uri, 'x', [row('run-1', i, 'SUCCEEDED')], 'job', { now })));
      const summary = await readSummary(store, uri);
      expect(summary?.rows.map((r) => r.sweepIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    }
  });

  it('retries a lost conditional write against a writer in another process', async () => {
    const store = new MemoryObjectStore();
    const uri = 's3://results/summaries/x/summary.json';
    await upsertSummaryRows(store, uri, 'x', [row('run-1', 0, 'SUBMITTED')], 'state', { now });
    // Another process writes between this one's read and write: the first attempt fails its If-Match.
    const originalPut = store.put.bind(store);
    let interfered = false;
    store.put = async (target, body, options) => {
      if (!interfered && options?.ifMatch) {
        interfered = true;
        const current = JSON.parse(await store.getText(uri)) as { rows: SummaryRow[] };
        await originalPut(uri, JSON.stringify({ ...current, rows: [...current.rows, row('run-2', 1, 'SUBMITTED')] }));
      }
      return originalPut(target, body, options);
    };
    await upsertSummaryRows(store, uri, 'x', [row('run-1', 0, 'SUCCEEDED')], 'job', { now, backoffMs: () => 0 });
    expect((await readSummary(store, uri))?.rows.map((r) => [r.runId, r.status])).toEqual([
      ['run-1', 'SUCCEEDED'],
      ['run-2', 'SUBMITTED'],
    ]);
  });

  it('never lets a state event or an array parent overwrite a finished row, while the job’s own event does', () => {
    const finished = [row('r', 0, 'SUCCEEDED', { accuracy: { all: 0.5, head: null, medium: null, tail: 0.5 } })];
    expect(mergeRows(finished, [row('r', 0, 'SUBMITTED')], 'state')).toBeNull();
    expect(mergeRows(finished, [row('r', 0, 'RUNNING')], 'placeholder')).toBeNull();
    expect(mergeRows(finished, [row('r', 0, 'FAILED', { reason: 'parent failed' })], 'array-parent')).toBeNull();
    expect(mergeRows(finished, [row('r', 0, 'FAILED', { reason: 'late' })], 'job')?.[0]).toMatchObject({ status: 'FAILED', reason: 'late' });
    expect(mergeRows(finished, [...finished], 'job')).toBeNull();
  });

  it('applies state events in event-time order whatever order they arrive in, and lets a retry go back to RUNNABLE', () => {
    const at = (status: SummaryRow['status'], statusAt: string): SummaryRow => row('r', 0, status, { statusAt });
    const running = [at('RUNNING', '2026-12-01T10:05:00.000Z')];
    // A late SUBMITTED (older) changes nothing; the retry's RUNNABLE (newer) applies.
    expect(mergeRows(running, [at('SUBMITTED', '2026-12-01T10:00:00.000Z')], 'state')).toBeNull();
    expect(mergeRows(running, [at('RUNNABLE', '2026-12-01T11:00:00.000Z')], 'state')?.[0]).toMatchObject({ status: 'RUNNABLE' });
    // Same second: the further state wins.
    expect(mergeRows(running, [at('RUNNABLE', '2026-12-01T10:05:00.000Z')], 'state')).toBeNull();
    // A placeholder only fills a gap.
    expect(mergeRows(running, [at('SUBMITTED', '2026-12-01T12:00:00.000Z')], 'placeholder')).toBeNull();
    expect(mergeRows([], [at('SUBMITTED', '2026-12-01T12:00:00.000Z')], 'placeholder')).toHaveLength(1);
  });

  it('drops the progress of a row once it has ended', () => {
    const progress = { epoch: 3, epochs: 10, step: 5, stepsPerEpoch: 85, updatedAt: '2026-12-01T10:00:00.000Z' };
    const merged = mergeRows([row('r', 0, 'RUNNING', { progress })], [row('r', 0, 'SUCCEEDED')], 'job');
    expect(merged?.[0]).toMatchObject({ status: 'SUCCEEDED' });
    expect(merged?.[0]?.progress).toBeUndefined();
  });
});
