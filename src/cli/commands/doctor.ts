/**
 * `sage doctor`: the backend, the GPU, a matmul rate and LIFT / Sage training throughput and peak
 * memory per micro-batch at ViT-B/16 shape, with the JSON the GPU table takes (src/trainer/doctor.ts).
 * In the image: `docker run --gpus all <image> doctor --json /out/doctor.json`.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { parseLocation, parsePositiveInteger } from '../options';
import type { CliOutput } from '../output';

interface DoctorFlags {
  json?: string;
  shape: string;
  microBatches?: number[];
  methods?: ('lift' | 'sage')[];
  steps?: number;
}

function positiveList(value: string): number[] {
  const numbers = value.split(',').map((s) => Number(s.trim()));
  if (numbers.some((n) => !(Number.isInteger(n) && n > 0))) throw new InvalidArgumentError(`expected positive integers separated by commas, got "${value}"`);
  return numbers;
}

function methodList(value: string): ('lift' | 'sage')[] {
  const methods = value.split(',').map((s) => s.trim());
  if (methods.some((m) => m !== 'lift' && m !== 'sage')) throw new InvalidArgumentError(`expected lift and/or sage, got "${value}"`);
  return methods as ('lift' | 'sage')[];
}

export function registerDoctor(program: Command, output: CliOutput): void {
  program
    .command('doctor')
    .description('measure this machine for training: backend, GPU, matmul GFLOP/s, LIFT and Sage images/s and peak memory per micro-batch (ViT-B/16 shape, random weights)')
    .option('--json <file>', 'also write the measurements as JSON (its gpuTable entries go into cdk.json sage:gpus)', parseLocation)
    .option('--shape <name>', 'model shape: vit-b16 or mini (seconds, for a quick look)', 'vit-b16')
    .option('--micro-batches <list>', 'micro-batches to measure (default 1,2; on a GPU also the automatic one)', positiveList)
    .option('--methods <list>', 'lift, sage or both', methodList)
    .option('--steps <n>', 'timed steps per method and micro-batch after a warm-up (default 2)', parsePositiveInteger)
    .action(async (flags: DoctorFlags) => {
      const { runDoctor, DOCTOR_SHAPES } = await import('../../trainer');
      const { CliInputError } = await import('../exit-codes');
      if (!(flags.shape in DOCTOR_SHAPES)) throw new CliInputError(`--shape ${flags.shape}: expected one of ${Object.keys(DOCTOR_SHAPES).join(', ')}`);
      const report = await runDoctor({
        shape: flags.shape as keyof typeof DOCTOR_SHAPES,
        ...(flags.microBatches ? { microBatches: flags.microBatches } : {}),
        ...(flags.methods ? { methods: flags.methods } : {}),
        ...(flags.steps ? { steps: flags.steps } : {}),
        log: (line) => output.err(line),
      });
      const json = `${JSON.stringify(report, null, 2)}\n`;
      if (flags.json) {
        const { storeFor } = await import('../../storage');
        await (await storeFor(flags.json)).put(flags.json, json, { contentType: 'application/json' });
        output.out(`wrote ${flags.json}`);
      } else {
        output.out(json.trimEnd());
      }
    });
}
