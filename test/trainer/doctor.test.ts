/**
 * `sage doctor` on this machine (no GPU): it runs on wasm and says so first, measures the mini
 * shape's training per method and micro-batch beside the memory model, and writes JSON the
 * schema accepts. The GPU table entries it would write on a GPU are checked from rows given here.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main';
import { DoctorReport, type DoctorTraining } from '../../src/contracts/doctor';
import { DEFAULT_GPUS, parseGpuTable } from '../../src/estimate';
import { gpuTableEntries, instanceTypesFor } from '../../src/trainer/doctor';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { output: { out: (line: string) => out.push(line), err: (line: string) => err.push(line) }, out, err };
}

describe('sage doctor', () => {
  it('runs on wasm here, says it is not a GPU, and writes the measurements as JSON', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'doctor-'));
    try {
      const file = path.join(dir, 'doctor.json');
      const io = capture();
      expect(await runCli(['doctor', '--shape', 'mini', '--steps', '1', '--json', file], io.output)).toBe(0);
      const report = DoctorReport.parse(JSON.parse(await readFile(file, 'utf8')));
      expect(report.onGpu).toBe(false);
      expect(report.device.backend).toBe('wasm');
      expect(report.notes[0]).toMatch(/^backend wasm: NOT a GPU/);
      expect(io.err.join('\n')).toMatch(/backend wasm: NOT a GPU/);
      expect(io.err.join('\n')).toMatch(/GPU: nvidia-smi failed/);
      expect(report.training.map((row) => [row.method, row.microBatch])).toEqual([
        ['lift', 1],
        ['lift', 2],
        ['sage', 1],
        ['sage', 2],
      ]);
      for (const row of report.training) {
        expect(row.imagesPerSecond).toBeCloseTo(row.microBatch / row.secondsPerStep, 6);
        // Sage's FIT adds one forward: 3F per image against LIFT's 2F.
        expect(row.flopsPerImage / report.training[0]!.flopsPerImage).toBeCloseTo(row.method === 'sage' ? 1.5 : 1, 9);
        // The profiled peak counts every tensor; the memory model's is within its calibration (test/engine/memory-model.test.ts).
        expect(row.modelPeakBytes).toBeGreaterThan(0.8 * row.peakTensorBytes);
        expect(row.modelPeakBytes).toBeLessThan(1.3 * row.peakTensorBytes);
        expect(row.heapBytes).toBeGreaterThan(0);
      }
      expect(report.matmul.gflops).toBeGreaterThan(0);
      expect(report.memory.automaticMicroBatch.sage).toBeGreaterThan(100);
      expect(report.gpuTable).toEqual({});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown shape as bad input', async () => {
    const io = capture();
    expect(await runCli(['doctor', '--shape', 'vit-h14'], io.output)).toBe(2);
    expect(io.err.join('\n')).toContain('--shape vit-h14: expected one of vit-b16, mini');
  });

  it('turns a GPU measurement into GPU table entries for the instance types with that GPU', () => {
    expect(instanceTypesFor('Tesla T4')).toEqual(['g4dn.xlarge', 'g4dn.2xlarge']);
    expect(instanceTypesFor('NVIDIA A10G')).toEqual(['g5.xlarge', 'g5.2xlarge', 'g5.12xlarge']);
    expect(instanceTypesFor('NVIDIA H100 80GB HBM3')).toEqual([]);
    const row = (method: 'lift' | 'sage', microBatch: number, achievedTflops: number): DoctorTraining => ({
      method,
      microBatch,
      steps: 2,
      secondsPerStep: 1,
      imagesPerSecond: microBatch,
      peakTensorBytes: 1,
      modelPeakBytes: 1,
      flopsPerImage: 1e11,
      achievedTflops,
    });
    // Sage's best row decides: 2.43 TFLOP/s on a T4 (8.1 peak) is 0.3.
    const entries = gpuTableEntries('Tesla T4', [row('lift', 8, 3.0), row('sage', 4, 2.0), row('sage', 8, 2.43)], 'ViT-B/16, 2026-01-01');
    expect(entries).toEqual({
      'g4dn.xlarge': { efficiency: 0.3, measuredBy: 'sage doctor on Tesla T4: sage at micro-batch 8, ViT-B/16, 2026-01-01' },
      'g4dn.2xlarge': { efficiency: 0.3, measuredBy: 'sage doctor on Tesla T4: sage at micro-batch 8, ViT-B/16, 2026-01-01' },
    });
    // Merged into the default table, it is still a table the stack accepts.
    const merged = Object.fromEntries(Object.entries(DEFAULT_GPUS).map(([type, spec]) => [type, { ...spec, ...entries[type] }]));
    expect(parseGpuTable(merged, 'test')['g4dn.xlarge']).toMatchObject({ efficiency: 0.3, measuredBy: expect.stringContaining('sage doctor') });
  });
});
