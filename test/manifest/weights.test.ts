/**
 * The CLIP weights folder is checked beyond existence at validation: config.json must parse
 * as a CLIP config and model.safetensors' header must list every tensor it needs, read with
 * two ranged reads and never the tensors themselves.
 */
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/clip/safetensors';
import { randomClipTensors } from '../../src/clip/testing';
import { validateManifest, type ManifestProblem } from '../../src/manifest';
import { LocalObjectStore } from '../../src/storage';
import { TINY_CLIP_CONFIG } from '../helpers/tiny-clip';
import { makeDataset, type TestDataset } from './helpers';

let dataset: TestDataset;
beforeEach(async () => {
  dataset = await makeDataset();
});
afterEach(async () => {
  await dataset.cleanup();
});

/** A local store that counts the bytes its streams deliver. */
class CountingStore extends LocalObjectStore {
  bytesStreamed = 0;
  override async getStream(uri: string, range?: { start: number; end: number }, options?: { maxBytes?: number }): Promise<Readable> {
    const stream = await super.getStream(uri, range, options);
    stream.on('data', (chunk: Buffer) => (this.bytesStreamed += chunk.length));
    return stream;
  }
}

async function weightProblems(store = new LocalObjectStore()): Promise<ManifestProblem[]> {
  const result = await validateManifest(JSON.stringify(dataset.manifest), { manifestUri: dataset.manifestUri, store });
  return result.ok ? [] : result.problems.filter((problem) => problem.path === 'weights');
}

const weightsFile = (name: string): string => path.join(dataset.dir, 'weights', name);

describe('the CLIP weights at validation', () => {
  it('accept a folder whose header lists every tensor of its config, and return the config for the estimate', async () => {
    const result = await validateManifest(JSON.stringify(dataset.manifest), { manifestUri: dataset.manifestUri, store: new LocalObjectStore() });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.clip?.vision).toMatchObject({ hiddenSize: 8, numLayers: 1, imageSize: 16, patchSize: 8 });
  });

  it('refuse a config.json that is not a CLIP config, naming the field', async () => {
    await writeFile(weightsFile('config.json'), JSON.stringify({ vision_config: { hidden_size: 'wide' } }));
    const [problem] = await weightProblems();
    expect(problem?.message).toMatch(/^expected a CLIP config: .*vision_config\.hidden_size/);
  });

  it('refuse a checkpoint that lacks a tensor the config needs, or has it in another shape', async () => {
    const tensors = randomClipTensors(TINY_CLIP_CONFIG, 1);
    delete tensors['visual_projection.weight'];
    await writeFile(weightsFile('model.safetensors'), writeSafetensors(tensors));
    expect((await weightProblems())[0]?.message).toMatch(/tensor "visual_projection.weight" is missing \(expected shape \[4, 8\] from config.json\)/);

    const reshaped = randomClipTensors(TINY_CLIP_CONFIG, 1);
    reshaped['text_projection.weight'] = { shape: [8, 4], data: reshaped['text_projection.weight']!.data };
    await writeFile(weightsFile('model.safetensors'), writeSafetensors(reshaped));
    expect((await weightProblems())[0]?.message).toMatch(/"text_projection.weight" has shape \[8, 4\], expected \[4, 8\]/);
  });

  it('refuse bytes that are not safetensors, and a missing file, with the file named', async () => {
    await writeFile(weightsFile('model.safetensors'), 'not safetensors at all');
    expect((await weightProblems())[0]?.message).toMatch(/model\.safetensors to hold the tensors .*(safetensors header length .* exceeds|safetensors header is not JSON)/);
    await writeFile(weightsFile('model.safetensors'), '');
    expect((await weightProblems())[0]?.message).toMatch(/model\.safetensors to hold the tensors .*safetensors file too short/);
  });

  it('read only the header of a large checkpoint (a sparse 2 GB file), never its tensors', async () => {
    const file = weightsFile('model.safetensors');
    const handle = await open(file, 'r+');
    await handle.truncate(2 * 1024 ** 3);
    await handle.close();
    const store = new CountingStore();
    expect(await weightProblems(store)).toEqual([]);
    // 8 bytes of length and the JSON header (a few KB for the tiny config), then nothing more.
    expect(store.bytesStreamed).toBeLessThan(64 * 1024);
  });
});
