/**
 * The container's entrypoint, bundled as the Dockerfile bundles it and run as the container
 * runs it (`node trainer.mjs` with the job in its environment), on local folders standing in
 * for the buckets: SIGTERM mid-training leaves a checkpoint and exit code 143, and the
 * retried attempt resumes from it and writes the run's metrics. A job's first S3 call prints no
 * AWS SDK Node-version banner.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleTrainer } from '../../container/build';
import { jobSpecToEnv, TRAINER_EXIT } from '../../src/contracts/job';
import { MetricsDocument } from '../../src/contracts/metrics';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const BANNER = 'NodeVersionSupportWarning';
const SDK_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

interface Attempt {
  code: number | null;
  stderr: string;
  stdout: string;
}

/**
 * Runs the bundle; sends SIGTERM once stderr shows a training step when `interrupt` is set.
 * `unset` names variables of the test's environment the child must not inherit.
 */
function runAttempt(bundle: string, env: Record<string, string>, interrupt: boolean, args: string[] = [], unset: string[] = []): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const name of unset) delete childEnv[name];
    const child = spawn(process.execPath, [bundle, ...args], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (interrupt && !signalled && /step \d+\/\d+/.test(stderr)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

describe('the container entrypoint on a spot reclaim', () => {
  let root: string;
  let bundle: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'entrypoint-'));
    // Inside the repository, so the bundle's external packages resolve from node_modules as in the image's /app.
    bundle = await bundleTrainer(path.join(REPO_ROOT, 'dist', `entrypoint-test-${process.pid}`));
    const { createRandomClip } = await import('../../src/clip/testing');
    const { generateProceduralDataset } = await import('../../src/procedural/dataset');
    const weights = path.join(root, 'weights');
    await createRandomClip(weights, { text: { maxPositionEmbeddings: 32 } }, 5);
    const dataset = await generateProceduralDataset({
      outDir: path.join(root, 'data'),
      imbalanceRatio: 2,
      maxPerClass: 48,
      testPerClass: 2,
      seed: 9,
      classes: 3,
      weights,
      // Two replicas whatever the machine: SIGTERM must stop both and the retry resume with both.
      training: { method: 'lift', epochs: 2, batchSize: 4, tte: false, replicas: 2 },
    });
    env = {
      ...jobSpecToEnv({
        runId: 'run-1',
        manifestUri: dataset.manifestUri,
        resultsUri: `${path.join(root, 'results', 'runs', 'run-1')}/`,
        checkpointUri: `${path.join(root, 'artifacts', 'checkpoints', 'run-1')}/`,
        cudaCacheUri: `${path.join(root, 'artifacts', 'cuda-cache')}/`,
        sweepIndex: 0,
      }),
      CUDA_CACHE_PATH: path.join(root, 'nv-cache'),
    };
  }, 120_000);

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(path.dirname(bundle), { recursive: true, force: true });
  });

  it('checkpoints and exits 143 on SIGTERM, then the retry resumes and finishes', async () => {
    const interrupted = await runAttempt(bundle, env, true);
    expect(interrupted.code, interrupted.stderr + interrupted.stdout).toBe(143);
    expect(interrupted.stdout).toContain('SIGTERM: checkpointing and stopping');
    expect(interrupted.stdout + interrupted.stderr).toMatch(/replicas: 2 \(/);
    const checkpointDir = path.join(root, 'artifacts', 'checkpoints', 'run-1', '0');
    expect((await readdir(checkpointDir)).length).toBeGreaterThan(0);
    expect(existsSync(path.join(root, 'results', 'runs', 'run-1', '0', 'metrics.json'))).toBe(false);

    const retried = await runAttempt(bundle, env, false);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stderr).toMatch(/resuming from .*checkpoints/);
    expect(retried.stdout + retried.stderr).toMatch(/replicas: 2 \(/);
    const metrics = MetricsDocument.parse(JSON.parse(await readFile(path.join(root, 'results', 'runs', 'run-1', '0', 'metrics.json'), 'utf8')));
    expect(metrics).toMatchObject({ runId: 'run-1', sweepIndex: 0, method: 'lift' });
    expect(metrics.epochs.map((epoch) => epoch.epoch)).toEqual([1, 2]);
    // Each line the wrapper writes is one JSON object.
    for (const line of retried.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('exits 3 when the job requires tensorflow and it does not load, saying why', async () => {
    const attempt = await runAttempt(bundle, { ...env, SAGE_REQUIRED_BACKEND: 'tensorflow', SAGE_RESULTS_URI: `${path.join(root, 'results', 'runs', 'run-3')}/` }, false);
    expect(attempt.code, attempt.stderr).toBe(TRAINER_EXIT.backendUnavailable);
    const failed = attempt.stdout.trim().split('\n').map((line) => JSON.parse(line) as { message: string; exitCode?: number; error?: { message?: string } }).find((r) => r.message === 'job failed');
    expect(failed?.exitCode).toBe(3);
    expect(failed?.error?.message).toMatch(/this job requires it \(SAGE_REQUIRED_BACKEND\)[\s\S]*import @tensorflow\/tfjs-node-gpu: [\s\S]*GPU: [\s\S]*cuDNN \(libcudnn\)/);
  });

  it('checkpoints and exits 75 before the attempt deadline, and the next attempt finishes the run', async () => {
    // 60 s an attempt against a margin of at least 5 minutes: the first step is the last of the attempt.
    const runEnv = { ...env, SAGE_RUN_ID: 'run-75', SAGE_RESULTS_URI: `${path.join(root, 'results', 'runs', 'run-75')}/`, SAGE_CHECKPOINT_URI: `${path.join(root, 'artifacts', 'checkpoints', 'run-75')}/`, SAGE_ATTEMPT_SECONDS: '60', AWS_BATCH_JOB_ATTEMPT: '1' };
    const first = await runAttempt(bundle, runEnv, false);
    expect(first.code, first.stderr).toBe(TRAINER_EXIT.toBeContinued);
    expect(first.stdout).toContain('to be continued');
    const progress = JSON.parse(await readFile(path.join(root, 'results', 'runs', 'run-75', '0', 'progress.json'), 'utf8')) as { epoch: number; step: number; attempt: number };
    expect(progress).toMatchObject({ epoch: 0, step: 1, attempt: 1 });
    const second = await runAttempt(bundle, { ...runEnv, SAGE_ATTEMPT_SECONDS: '86400', AWS_BATCH_JOB_ATTEMPT: '2' }, false);
    expect(second.code, second.stderr).toBe(TRAINER_EXIT.done);
    expect(existsSync(path.join(root, 'results', 'runs', 'run-75', '0', 'metrics.json'))).toBe(true);
  });

  it('prints no AWS SDK Node-version banner at its first S3 call, unless the switch is set to show it', async () => {
    // A manifest in S3 behind an endpoint that refuses connections: the job makes its S3 client, then fails fast.
    const s3Env = {
      ...env,
      SAGE_MANIFEST_URI: 's3://no-bucket/manifests/m.json',
      SAGE_CUDA_CACHE_URI: '',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_MAX_ATTEMPTS: '1',
    };
    const silent = await runAttempt(bundle, s3Env, false, [], [SDK_SWITCH]);
    const output = silent.stderr + silent.stdout;
    expect(silent.code, output).not.toBe(TRAINER_EXIT.done);
    // The job did reach S3 (its failure is the refused connection), so an SDK client was configured.
    expect(output).toContain('ECONNREFUSED 127.0.0.1:9');
    expect(output).not.toContain(BANNER);
    // The control: with the switch set otherwise by the person, the same run prints the banner on Node < 22.
    const shown = await runAttempt(bundle, { ...s3Env, [SDK_SWITCH]: 'false' }, false);
    if (Number(process.versions.node.split('.')[0]) < 22) expect(shown.stderr).toContain(BANNER);
    else expect(shown.stderr).not.toContain(BANNER);
  });

  it('runs sage doctor when given the doctor argument, on wasm here, saying so', async () => {
    const attempt = await runAttempt(bundle, {}, false, ['doctor', '--shape', 'mini', '--steps', '1', '--methods', 'lift', '--micro-batches', '1']);
    expect(attempt.code, attempt.stderr).toBe(0);
    expect(attempt.stderr).toContain('backend wasm: NOT a GPU');
    const report = JSON.parse(attempt.stdout) as { format: string; onGpu: boolean; training: unknown[] };
    expect(report).toMatchObject({ format: 'sage-doctor', onGpu: false });
    expect(report.training).toHaveLength(1);
  });
});
