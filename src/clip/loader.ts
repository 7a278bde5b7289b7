/**
 * loadClip: a Hugging Face CLIP folder (local or `s3://`) → ClipModel. The config
 * decides every size; the checkpoint is checked tensor by tensor against it before
 * anything is built.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseClipConfig } from './config';
import { localClipFolder } from './folder';
import { ClipModelImpl } from './model';
import { readSafetensors } from './safetensors';
import type { ClipModel } from './types';
import { checkClipTensors } from './weights';

export interface LoadClipOptions {
  /** Where S3 folders are downloaded (default `$SAGE_CACHE_DIR/clip` or `~/.cache/sage/clip`). */
  cacheDir?: string;
}

/** A required file of the CLIP folder is missing or unreadable. */
export class ClipFolderError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClipFolderError';
  }
}

async function readRequired(dir: string, name: string, source: string): Promise<Buffer> {
  try {
    return await readFile(path.join(dir, name));
  } catch (error) {
    throw new ClipFolderError(`CLIP folder ${source} has no readable ${name} (expected config.json and model.safetensors in the Hugging Face layout)`, { cause: error });
  }
}

export async function loadClip(location: string, options: LoadClipOptions = {}): Promise<ClipModel> {
  const folder = await localClipFolder(location, options.cacheDir);
  const configText = (await readRequired(folder.dir, 'config.json', location)).toString('utf8');
  const config = parseClipConfig(configText, `${location}/config.json`);
  const bytes = await readRequired(folder.dir, 'model.safetensors', location);
  const table = readSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  checkClipTensors(config, table, `${location}/model.safetensors`);
  // The checkpoint's learned logit scale (stored as its log) wins over the config's initial value.
  const logitScale = Math.exp(table.get('logit_scale')!.data[0]!);
  return new ClipModelImpl({ ...config, logitScale }, table, {
    source: location,
    fingerprint: `${location}#${folder.weightsId ?? 'unknown'}`,
  });
}
