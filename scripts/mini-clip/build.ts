/**
 * Recipe → trained mini-CLIP folder: builds the tokenizer from the caption vocabulary, trains
 * contrastively on procedural pairs, writes the HF folder and reports what it wrote.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ENSEMBLE_TEMPLATES } from '../../src/clip/templates';
import { fillFrame, WORLD_CAPTION_FRAMES } from '../../src/procedural/captions';
import { BACKGROUND_NAMES, CLASS_NAMES, TEXTURES } from '../../src/procedural/world';
import { writeMiniClipFolder } from './export';
import { countParams } from './params';
import { clipConfigFor, type MiniClipRecipe } from './recipe';
import { buildClipTokenizer } from './tokenizer';
import { trainMiniClip } from './train';

/** Caption frames: the 60 Appendix F templates (so zero-shot prompts are in-distribution) and the world's own. */
export const TRAINING_FRAMES: readonly string[] = [...ENSEMBLE_TEMPLATES, ...WORLD_CAPTION_FRAMES];

/** Every text the captions can contain, for the tokenizer's merges: each frame with each class, plus attribute words. */
export function tokenizerCorpus(): string[] {
  const attributes = [...TEXTURES, ...BACKGROUND_NAMES, 'small large on a background'].join(' ');
  return [...TRAINING_FRAMES.flatMap((frame) => CLASS_NAMES.map((name) => fillFrame(frame, name))), attributes];
}

export interface BuiltMiniClip {
  files: { path: string; bytes: number; sha256: string }[];
  parameters: number;
  finalLoss: number;
  heldOutAccuracy: number;
  wallSeconds: number;
  cpuSeconds: number;
}

export async function buildMiniClip(recipe: MiniClipRecipe, outDir: string, log: (line: string) => void): Promise<BuiltMiniClip> {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const built = buildClipTokenizer(tokenizerCorpus(), recipe.maxPositionEmbeddings);
  const tokenizer = new Tokenizer(built.tokenizerJson, built.tokenizerConfig);
  const config = clipConfigFor(recipe, built);
  log(`mini-CLIP: vocab ${built.vocabSize}, ${TRAINING_FRAMES.length} caption frames, ${CLASS_NAMES.length} classes`);
  const trained = trainMiniClip(config, (caption) => tokenizer.encode(caption).ids, {
    seed: recipe.seed,
    steps: recipe.steps,
    batchSize: recipe.batchSize,
    learningRate: recipe.learningRate,
    warmupSteps: recipe.warmupSteps,
    weightDecay: recipe.weightDecay,
    trainContext: recipe.trainContext,
    frames: TRAINING_FRAMES,
    evalEvery: Math.max(50, Math.floor(recipe.steps / 6)),
    log,
  });
  const written = await writeMiniClipFolder(outDir, {
    config,
    specs: trained.specs,
    values: trained.values,
    tokenizerJson: built.tokenizerJson,
    tokenizerConfig: built.tokenizerConfig,
    // Recipe only: no timestamps or host names, so the bytes depend on the recipe alone.
    metadata: { format: 'pt', generator: 'scripts/make-mini-clip.ts', recipe: JSON.stringify(recipe) },
  });
  const files = await Promise.all(
    written.map(async (file) => {
      const bytes = await readFile(file);
      return { path: path.relative(process.cwd(), file), bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
    }),
  );
  const cpu = process.cpuUsage(cpuStarted);
  return {
    files,
    parameters: countParams(trained.specs),
    finalLoss: trained.finalLoss,
    heldOutAccuracy: trained.heldOutAccuracy,
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}
