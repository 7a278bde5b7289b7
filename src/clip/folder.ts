/**
 * Turns a CLIP location (a local folder, or an `s3://` prefix) into a local folder.
 * S3 folders are downloaded once into a cache directory keyed by the prefix; a file
 * is fetched again only when its etag changes. Goes through storeFor, never the AWS SDK.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isS3Uri, joinUri, storeFor, type ObjectInfo } from '../storage';
import { type ClipLog, formatMegabytes, formatSeconds, percent, silentClipLog, StageProgress } from './progress';

/** The files a Hugging Face CLIP folder may hold; which of them are required is up to the caller. */
export const CLIP_FOLDER_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt'] as const;

export interface LocalClipFolder {
  /** The location as given (for logs and cache keys). */
  source: string;
  /** A local directory holding the files. */
  dir: string;
  /** `size-etag` of model.safetensors (or null where absent), for cache keys. */
  weightsId: string | null;
}

/** Default cache: `$SAGE_CACHE_DIR/clip` or `~/.cache/sage/clip`. */
export function defaultClipCacheDir(): string {
  return path.join(process.env.SAGE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'sage'), 'clip');
}

const weightsIdOf = (info: ObjectInfo | null): string | null => (info ? `${info.size}-${info.etag}` : null);

async function readEtags(file: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

/**
 * Resolves a CLIP location to a local folder, downloading from S3 into `cacheDir` when
 * needed; each download reports its size, each quarter of it and its time to `log`.
 */
export async function localClipFolder(location: string, cacheDir = defaultClipCacheDir(), log: ClipLog = silentClipLog): Promise<LocalClipFolder> {
  const store = await storeFor(location);
  if (!isS3Uri(location)) {
    const dir = path.resolve(location);
    return { source: location, dir, weightsId: weightsIdOf(await store.head(path.join(dir, 'model.safetensors'))) };
  }
  const dir = path.join(cacheDir, createHash('sha256').update(location.replace(/\/+$/, '')).digest('hex').slice(0, 16));
  await mkdir(dir, { recursive: true });
  const etagFile = path.join(dir, '.etags.json');
  const etags = await readEtags(etagFile);
  let weightsId: string | null = null;
  for (const name of CLIP_FOLDER_FILES) {
    const uri = joinUri(location, name);
    const info = await store.head(uri);
    if (!info) continue;
    if (name === 'model.safetensors') weightsId = weightsIdOf(info);
    if (etags[name] === info.etag) continue;
    // Stream to a temporary file and rename, so a crash never leaves half a checkpoint in the cache.
    const temporary = path.join(dir, `${name}.${process.pid}.partial`);
    log(`CLIP ${location}: downloading ${name} (${formatMegabytes(info.size)}) into ${dir}`);
    const source = await store.getStream(uri);
    let received = 0;
    const progress = new StageProgress(info.size, (done, total, elapsed, eta) => {
      if (done < total) log(`CLIP ${location}: ${name} ${percent(done, total)} (${formatMegabytes(done)}), ${formatSeconds(elapsed)}, ETA ${formatSeconds(eta)}`);
    });
    const counted = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of chunks) {
        progress.update((received += chunk.byteLength));
        yield chunk;
      }
    };
    await pipeline(source, counted, createWriteStream(temporary));
    log(`CLIP ${location}: ${name} downloaded in ${formatSeconds(progress.elapsed())}`);
    await rename(temporary, path.join(dir, name));
    etags[name] = info.etag;
    await writeFile(etagFile, JSON.stringify(etags, null, 2));
  }
  return { source: location, dir, weightsId };
}
