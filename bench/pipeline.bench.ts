/**
 * The one-machine pipeline end to end: `npm start` (`sage demo`) in a child process, timed
 * from start to the printed table, against the target of 10 minutes on a 2-core machine.
 * Also reports each method's share from its metrics.json (train and evaluation seconds).
 *
 * `npm run bench -- pipeline`. Env: PIPELINE_BENCH_ARGS (extra `sage demo` flags, e.g. "--parallel 2").
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MetricsDocument } from '../src/contracts/metrics';
import type { BenchReport, BenchRow } from './types';

const TARGET_SECONDS = 600;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function runDemo(out: string, extra: string[]): Promise<{ code: number | null; seconds: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'sage.mjs'), 'demo', '--out', out, ...extra], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, seconds: (performance.now() - started) / 1000, stdout }));
  });
}

async function metricsOf(runsDir: string): Promise<MetricsDocument[]> {
  const out: MetricsDocument[] = [];
  for (const runId of await readdir(runsDir)) {
    for (const index of await readdir(path.join(runsDir, runId))) {
      const file = path.join(runsDir, runId, index, 'metrics.json');
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text) out.push(MetricsDocument.parse(JSON.parse(text)));
    }
  }
  return out.sort((a, b) => a.sweepIndex - b.sweepIndex);
}

export async function run(): Promise<BenchReport> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'sage-bench-demo-'));
  // The demo refuses a folder it did not make; let it create its own below the temp folder.
  const demoDir = path.join(out, 'demo');
  const extra = (process.env.PIPELINE_BENCH_ARGS ?? '').split(/\s+/).filter((s) => s.length > 0);
  try {
    const result = await runDemo(demoDir, extra);
    if (result.code !== 0) throw new Error(`sage demo exited with ${result.code}`);
    const metrics = await metricsOf(path.join(demoDir, 'buckets', 'results', 'runs'));
    const rows: BenchRow[] = [
      { stage: `npm start (sage demo${extra.length ? ` ${extra.join(' ')}` : ''})`, seconds: Number(result.seconds.toFixed(1)), targetSeconds: TARGET_SECONDS, met: result.seconds < TARGET_SECONDS },
      ...metrics.map((m) => ({
        stage: `  ${m.method}: job total`,
        seconds: Number(m.timings.totalSeconds.toFixed(1)),
        trainSeconds: Number(m.timings.trainSeconds.toFixed(1)),
        evalSeconds: Number(m.timings.evalSeconds.toFixed(1)),
        trainImagesPerSecond: Number(m.timings.trainImagesPerSecond.toFixed(1)),
        top1: Number((m.accuracy.all * 100).toFixed(1)),
        backend: m.backend,
      })),
    ];
    const jobSeconds = metrics.reduce((s, m) => s + m.timings.totalSeconds, 0);
    return {
      rows,
      notes: [
        `target: the whole demo under ${TARGET_SECONDS} s on 2 cores: ${result.seconds < TARGET_SECONDS ? 'met' : 'MISSED'} (${result.seconds.toFixed(0)} s)`,
        `trainer job time summed over the jobs: ${jobSeconds.toFixed(0)} s (jobs run side by side with --parallel; the rest of the wall time is data generation, process start-up, validation and aggregation)`,
      ],
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
