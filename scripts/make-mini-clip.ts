/**
 * Trains the mini-CLIP on the procedural world and writes it as a Hugging Face CLIP folder.
 *
 *   npx tsx scripts/make-mini-clip.ts --seed 0 --out fixtures/mini-clip
 *
 * Progress goes to stderr; a JSON summary (files with sha256, parameters, timings, and with
 * --eval the zero-shot accuracy through the real loader) goes to stdout. The same seed and
 * recipe on the wasm backend give the same bytes (see docs/procedural.md).
 */
import { Command, InvalidArgumentError } from 'commander';
import { initBackend, type BackendName } from '../src/clip';
import { buildMiniClip } from './mini-clip/build';
import { evaluateZeroShot } from './mini-clip/evaluate';
import { DEFAULT_RECIPE } from './mini-clip/recipe';

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return parsed;
}

const program = new Command()
  .name('make-mini-clip')
  .description('Train the procedural mini-CLIP and write it in the Hugging Face CLIP layout.')
  .option('--seed <n>', 'seed of initialisation and data', integer, DEFAULT_RECIPE.seed)
  .option('--out <dir>', 'output folder', 'fixtures/mini-clip')
  .option('--steps <n>', 'training steps', integer, DEFAULT_RECIPE.steps)
  .option('--batch-size <n>', 'pairs per step', integer, DEFAULT_RECIPE.batchSize)
  .option('--backend <name>', 'tfjs backend (the fixture is made on wasm; another backend gives other bytes)', 'wasm')
  .option('--eval', 'measure zero-shot top-1 on held-out images through src/clip afterwards', false)
  .parse();

const options = program.opts<{ seed: number; out: string; steps: number; batchSize: number; backend: BackendName; eval: boolean }>();
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
await initBackend({ backend: options.backend, log });
const recipe = { ...DEFAULT_RECIPE, seed: options.seed, steps: options.steps, batchSize: options.batchSize };
const built = await buildMiniClip(recipe, options.out, log);
const evaluation = options.eval ? await evaluateZeroShot(options.out, { perClass: 20 }) : undefined;
process.stdout.write(`${JSON.stringify({ recipe, ...built, zeroShot: evaluation && { ...evaluation, perClassAccuracy: undefined } }, null, 2)}\n`);
