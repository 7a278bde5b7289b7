/**
 * Keeps the CUDA JIT cache between jobs (SPEC §5): tfjs-node-gpu ships kernels up to sm_75
 * plus PTX, so on A10G/L4/H100 the driver compiles PTX at start-up, which can take many
 * minutes. The driver writes what it compiled under CUDA_CACHE_PATH; the entrypoint
 * restores that folder from one tar object in the artifacts bucket before training and
 * saves it back after, only when it changed.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { PipelineLog } from '../src/pipeline/log';
import { joinUri, type ObjectStore } from '../src/storage';

export const CUDA_CACHE_ARCHIVE = 'compute-cache.tar';
/** Archives above this are not uploaded: they are held in memory, and the cache is only an optimisation. */
export const MAX_ARCHIVE_BYTES = 2 * 1024 ** 3;

export interface CacheSnapshot {
  files: number;
  bytes: number;
  /** `relative path:size:mtime` of every file, to tell whether anything changed. */
  fingerprint: string;
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) out.push(full);
    }
  };
  await walk(root);
  return out.sort();
}

export async function snapshotCache(cacheDir: string): Promise<CacheSnapshot> {
  const files = await listFiles(cacheDir);
  let bytes = 0;
  const parts: string[] = [];
  for (const file of files) {
    const info = await stat(file);
    bytes += info.size;
    parts.push(`${path.relative(cacheDir, file)}:${info.size}:${info.mtimeMs.toFixed(0)}`);
  }
  return { files: files.length, bytes, fingerprint: parts.join('\n') };
}

/** Unpacks the stored archive into cacheDir; returns the number of files restored (0 when none stored). */
export async function restoreCudaCache(store: ObjectStore, cacheUri: string, cacheDir: string, log: PipelineLog): Promise<number> {
  const archiveUri = joinUri(cacheUri, CUDA_CACHE_ARCHIVE);
  if (!(await store.exists(archiveUri))) {
    log.info('no CUDA JIT cache stored yet: kernels will be compiled and saved', { archiveUri });
    return 0;
  }
  await mkdir(cacheDir, { recursive: true });
  const extract = tar.extract();
  let files = 0;
  const done = (async () => {
    for await (const entry of extract) {
      const target = path.resolve(cacheDir, entry.header.name);
      // Never write outside the cache folder, whatever the archive says.
      if (entry.header.type !== 'file' || !target.startsWith(path.resolve(cacheDir) + path.sep)) {
        entry.resume();
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, Buffer.concat(chunks));
      files += 1;
    }
  })();
  await pipeline(await store.getStream(archiveUri), extract);
  await done;
  log.info('restored the CUDA JIT cache', { archiveUri, files });
  return files;
}

/** Packs cacheDir into a tar and stores it, unless it matches `before` or is too large. Returns whether it uploaded. */
export async function saveCudaCache(store: ObjectStore, cacheUri: string, cacheDir: string, before: CacheSnapshot, log: PipelineLog): Promise<boolean> {
  const after = await snapshotCache(cacheDir);
  if (after.files === 0 || after.fingerprint === before.fingerprint) {
    log.info('the CUDA JIT cache did not change: nothing to save', { files: after.files });
    return false;
  }
  if (after.bytes > MAX_ARCHIVE_BYTES) {
    log.warn('the CUDA JIT cache is too large to save', { bytes: after.bytes, limit: MAX_ARCHIVE_BYTES });
    return false;
  }
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const file of await listFiles(cacheDir)) {
    const info = await stat(file);
    const entry = pack.entry({ name: path.relative(cacheDir, file).split(path.sep).join('/'), size: info.size, mtime: info.mtime });
    await pipeline(createReadStream(file), entry);
  }
  pack.finalize();
  await collected;
  const archiveUri = joinUri(cacheUri, CUDA_CACHE_ARCHIVE);
  await store.put(archiveUri, Buffer.concat(chunks), { contentType: 'application/x-tar' });
  log.info('saved the CUDA JIT cache', { archiveUri, files: after.files, bytes: after.bytes });
  return true;
}
