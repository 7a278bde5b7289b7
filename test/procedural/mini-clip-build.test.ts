import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMiniClip } from '../../scripts/mini-clip/build';
import { readSafetensors } from '../../src/clip/safetensors';
import { DEFAULT_RECIPE, type MiniClipRecipe } from '../../scripts/mini-clip/recipe';
import { initBackend, loadClip } from '../../src/clip';

/** A few steps of a very small model: enough to exercise training, export and loading. */
const TINY: MiniClipRecipe = {
  ...DEFAULT_RECIPE,
  imageSize: 16,
  patchSize: 8,
  visionHidden: 16,
  textHidden: 16,
  visionLayers: 1,
  textLayers: 1,
  visionHeads: 2,
  textHeads: 2,
  projectionDim: 8,
  steps: 2,
  batchSize: 8,
  warmupSteps: 1,
};

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

describe('building the mini-CLIP', () => {
  let root = '';
  const logs: string[] = [];

  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: () => undefined });
    root = await mkdtemp(path.join(os.tmpdir(), 'mini-clip-build-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes identical bytes when run twice with the same seed, and different weights with another seed', async () => {
    const first = await buildMiniClip(TINY, path.join(root, 'a'), (line) => logs.push(line));
    const second = await buildMiniClip(TINY, path.join(root, 'b'), () => undefined);
    expect(second.files.map((f) => f.sha256)).toEqual(first.files.map((f) => f.sha256));
    for (const name of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
      expect(await sha256(path.join(root, 'b', name))).toBe(await sha256(path.join(root, 'a', name)));
    }
    await buildMiniClip({ ...TINY, seed: 1 }, path.join(root, 'c'), () => undefined);
    expect(await sha256(path.join(root, 'c', 'model.safetensors'))).not.toBe(await sha256(path.join(root, 'a', 'model.safetensors')));
    expect(logs.some((line) => /^step 2\/2 loss \d/.test(line))).toBe(true);
  });

  it('stores the Hugging Face tensor names and layouts, which the runtime loader accepts', async () => {
    const table = readSafetensors(new Uint8Array(await readFile(path.join(root, 'a', 'model.safetensors'))));
    expect(table.get('vision_model.embeddings.patch_embedding.weight')?.shape).toEqual([16, 3, 8, 8]);
    expect(table.get('vision_model.encoder.layers.0.self_attn.q_proj.weight')?.shape).toEqual([16, 16]);
    expect(table.get('vision_model.encoder.layers.0.mlp.fc1.weight')?.shape).toEqual([64, 16]);
    expect(table.get('text_model.final_layer_norm.weight')?.shape).toEqual([16]);
    expect(table.get('visual_projection.weight')?.shape).toEqual([8, 16]);
    expect(table.get('text_projection.weight')?.shape).toEqual([8, 16]);
    expect(table.get('logit_scale')?.shape).toEqual([]);
    const config = JSON.parse(await readFile(path.join(root, 'a', 'config.json'), 'utf8')) as { text_config: { max_position_embeddings: number; vocab_size: number } };
    expect(config.text_config.max_position_embeddings).toBe(TINY.maxPositionEmbeddings);
    expect(table.get('text_model.embeddings.token_embedding.weight')?.shape).toEqual([config.text_config.vocab_size, 16]);
    const model = await loadClip(path.join(root, 'a'));
    expect(model.config.vision.imageSize).toBe(16);
    model.dispose();
  });
});
