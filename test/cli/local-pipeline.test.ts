/**
 * The local pipeline's glue with a stand-in trainer: the real validation and aggregation
 * cores run against folder buckets, the LocalJobSubmitter plays AWS Batch.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_ENV } from '../../src/contracts/job';
import { Summary } from '../../src/contracts/summary';
import type { JobStateChange } from '../../src/pipeline';
import { jobSpecFromEnv } from '../../src/contracts/job';
import { silentProgress } from '../../src/engine';
import { inProcessRunner, type JobRunner } from '../../src/local/job-runner';
import { runJob } from '../../src/trainer';
import { runLocalPipeline } from '../../src/local/pipeline';
import { LocalJobSubmitter } from '../../src/local/submitter';
import { LocalObjectStore } from '../../src/storage';
import { sampleMetrics } from '../report/sample-report';
import { writeTinyClip, writeTinyDataset } from './fixtures';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Writes a metrics.json for sweep entries that succeed; fails the ones listed. */
function scriptedRunner(failing: ReadonlySet<number>, seen: Record<string, string>[] = []): JobRunner {
  const store = new LocalObjectStore();
  return {
    async run(env) {
      seen.push(env);
      const index = Number(env[JOB_ENV.arrayIndex] ?? env[JOB_ENV.sweepIndex]);
      if (failing.has(index)) return { status: 'FAILED', reason: `scripted failure of #${index}` };
      const method = ['zero-shot', 'lift', 'sage'][index] ?? 'sage';
      const metrics = sampleMetrics(method, index, env[JOB_ENV.runId]!);
      await store.put(path.join(env[JOB_ENV.resultsUri]!, String(index), 'metrics.json'), JSON.stringify(metrics));
      return { status: 'SUCCEEDED' };
    },
  };
}

describe('runLocalPipeline', () => {
  let root: string;
  let weights: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-local-'));
    weights = await writeTinyClip(path.join(root, 'clip'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('runs every sweep entry as an array child and aggregates them into a summary and a report', async () => {
    const manifest = await writeTinyDataset(path.join(root, 'ok'), weights, { name: 'three', sweep: [{ method: 'zero-shot' }, { method: 'lift' }, { method: 'sage' }] });
    const seen: Record<string, string>[] = [];
    const buckets = path.join(root, 'buckets');
    const result = await runLocalPipeline({ manifestUri: manifest, bucketsRoot: buckets, runner: scriptedRunner(new Set(), seen), log: silent });
    if (result.outcome !== 'finished') throw new Error(`expected a finished run, got ${result.outcome}`);

    expect(seen.map((env) => env[JOB_ENV.arrayIndex])).toEqual(['0', '1', '2']);
    expect(new Set(seen.map((env) => env[JOB_ENV.runId]))).toEqual(new Set([result.runId]));
    expect(seen[0]![JOB_ENV.manifestUri]).toBe(path.join(buckets, 'data', 'manifests', 'three.json'));
    const summary = Summary.parse(JSON.parse(await readFile(result.summaryUri, 'utf8')));
    expect(summary.rows.map((r) => [r.sweepIndex, r.method, r.status])).toEqual([
      [0, 'zero-shot', 'SUCCEEDED'],
      [1, 'lift', 'SUCCEEDED'],
      [2, 'sage', 'SUCCEEDED'],
    ]);
    expect(result.reportHtmlUri).toBe(path.join(buckets, 'results', 'summaries', 'three', 'report.html'));
    expect(await readFile(result.reportHtmlUri, 'utf8')).toContain('data-chart="per-class"');
    expect(await readFile(result.resultsCsvUri, 'utf8')).toMatch(/^runId,sweepIndex,method/);
  });

  it('records a failed child as FAILED with its reason while the others succeed', async () => {
    const manifest = await writeTinyDataset(path.join(root, 'fail'), weights, { name: 'one-fails', sweep: [{ method: 'zero-shot' }, { method: 'lift' }] });
    const result = await runLocalPipeline({ manifestUri: manifest, bucketsRoot: path.join(root, 'buckets'), runner: scriptedRunner(new Set([1])), log: silent });
    if (result.outcome !== 'finished') throw new Error(`expected a finished run, got ${result.outcome}`);
    const rows = result.summary.rows.filter((r) => r.runId === result.runId);
    expect(rows.map((r) => r.status)).toEqual(['SUCCEEDED', 'FAILED']);
    expect(rows[1]!.reason).toBe('scripted failure of #1');
  });

  it('trains for real with the in-process runner: runJob writes the metrics the aggregation reads', async () => {
    const manifest = await writeTinyDataset(path.join(root, 'real'), weights, { name: 'in-process', sweep: [{ method: 'zero-shot' }, { method: 'lift' }] });
    const runner = inProcessRunner((env) => runJob(jobSpecFromEnv(env), { progress: silentProgress, log: () => {}, workers: 0 }).then(() => undefined));
    const result = await runLocalPipeline({ manifestUri: manifest, bucketsRoot: path.join(root, 'buckets'), runner, log: silent });
    if (result.outcome !== 'finished') throw new Error(`expected a finished run, got ${result.outcome}`);
    const rows = result.summary.rows.filter((r) => r.runId === result.runId);
    expect(rows.map((r) => [r.method, r.status])).toEqual([
      ['zero-shot', 'SUCCEEDED'],
      ['lift', 'SUCCEEDED'],
    ]);
    expect(rows[1]!.parameters!.adapters).toBeGreaterThan(0);
  });

  it('rejects a manifest with problems without running anything', async () => {
    const manifest = await writeTinyDataset(path.join(root, 'bad'), weights, { name: 'bad', sweep: [{ method: 'lift', alpha: 7 }] });
    const seen: Record<string, string>[] = [];
    const result = await runLocalPipeline({ manifestUri: manifest, bucketsRoot: path.join(root, 'buckets'), runner: scriptedRunner(new Set(), seen), log: silent });
    expect(result.outcome).toBe('rejected');
    if (result.outcome !== 'rejected') return;
    expect(result.problems.some((p) => p.path.startsWith('sweep[0].alpha'))).toBe(true);
    expect(seen).toEqual([]);
  });
});

describe('LocalJobSubmitter', () => {
  it('answers submit at once and runs the job only when asked, reporting children then the failed parent', async () => {
    const changes: JobStateChange[] = [];
    const runner: JobRunner = { run: async (env) => (env[JOB_ENV.arrayIndex] === '1' ? { status: 'FAILED', reason: 'boom' } : { status: 'SUCCEEDED' }) };
    const submitter = new LocalJobSubmitter({ runner, concurrency: 2, onStateChange: async (change) => void changes.push(change) });
    const { jobId } = await submitter.submit({ runId: 'r1', name: 'job', arraySize: 3, env: { [JOB_ENV.runId]: 'r1' } });
    expect(submitter.pending).toBe(1);
    expect(changes).toEqual([]);
    const results = await submitter.runSubmitted();
    expect(results.map((r) => [r.jobId, r.outcome.status])).toEqual([
      [`${jobId}:0`, 'SUCCEEDED'],
      [`${jobId}:1`, 'FAILED'],
      [`${jobId}:2`, 'SUCCEEDED'],
    ]);
    // As Batch reports them: the job's SUBMITTED, each child's RUNNING before its end, the parent's end last.
    expect(changes[0]).toMatchObject({ jobId, status: 'SUBMITTED', role: { kind: 'parent', arraySize: 3 } });
    const parent = changes.at(-1)!;
    expect(parent).toMatchObject({ jobId, status: 'FAILED', role: { kind: 'parent', arraySize: 3 }, runId: 'r1', reason: '1 of 3 child jobs failed' });
    const children = changes.slice(1, -1);
    expect(children.map((c) => c.role.kind)).toEqual(Array(6).fill('child'));
    for (const index of [0, 1, 2]) {
      const mine = children.filter((c) => c.jobId === `${jobId}:${index}`).map((c) => c.status);
      expect(mine).toEqual(['RUNNING', index === 1 ? 'FAILED' : 'SUCCEEDED']);
    }
  });

  it('runs a single job with its own sweep index and no array index', async () => {
    const envs: Record<string, string>[] = [];
    const changes: JobStateChange[] = [];
    const submitter = new LocalJobSubmitter({ runner: { run: async (env) => (envs.push(env), { status: 'SUCCEEDED' }) }, onStateChange: async (c) => void changes.push(c) });
    await submitter.submit({ runId: 'r2', name: 'job', arraySize: 1, env: { [JOB_ENV.runId]: 'r2', [JOB_ENV.sweepIndex]: '0' } });
    await submitter.runSubmitted();
    expect(envs[0]![JOB_ENV.arrayIndex]).toBeUndefined();
    expect(changes.map((c) => c.status)).toEqual(['SUBMITTED', 'RUNNING', 'SUCCEEDED']);
    for (const change of changes) expect(change.role).toEqual({ kind: 'single', sweepIndex: 0 });
  });
});
