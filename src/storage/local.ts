/** ObjectStore over the local file system: the buckets of the one-machine pipeline. */
import { constants, createWriteStream, type Stats } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError } from '../common/errors';
import { collectStream, limitStream } from './bounded';
import {
  ObjectNotFoundError,
  ObjectNotRegularFileError,
  ObjectTooLargeError,
  PreconditionFailedError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type ReadOptions,
} from './types';

function isNotFound(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: string }).code : undefined;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function fileKind(info: Stats): string {
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isDirectory()) return 'a directory';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens a regular file for reading. O_NONBLOCK keeps the open of a FIFO from waiting for a
 * writer; fstat on the open descriptor (not a stat before it) rules out a swap in between.
 * Devices such as /dev/zero, FIFOs and directories are refused before a byte is read.
 */
async function openRegularFile(uri: string, maxBytes: number | undefined): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(uri, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (isNotFound(error)) throw new ObjectNotFoundError(uri, { cause: error });
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new ObjectNotRegularFileError(uri, fileKind(info));
    if (maxBytes !== undefined && info.size > maxBytes) throw new ObjectTooLargeError(uri, maxBytes, info.size);
    return { handle, size: info.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Names of replaceFile's half-written files, hidden from list(). */
const TEMPORARY_FILE = /\.\d+\.\d+\.[a-z0-9]+\.tmp$/;

/** Write then rename, so a reader never sees half a file. */
async function replaceFile(uri: string, body: Buffer | string | Uint8Array): Promise<void> {
  const temporary = `${uri}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, body);
  await rename(temporary, uri);
}

/** Runs `action` while holding an exclusive lock file; waits (up to ~10 s) for another holder. */
async function withLockFile<T>(lockPath: string, action: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.close();
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      if (attempt >= 1000) throw new StorageError(`timed out waiting for the lock ${lockPath}; delete it if no writer is running`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  try {
    return await action();
  } finally {
    await rm(lockPath, { force: true });
  }
}

export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local' as const;

  async get(uri: string, options: ReadOptions = {}): Promise<Buffer> {
    const { handle } = await openRegularFile(uri, options.maxBytes);
    // Read to the end rather than trusting the size: files of /proc report 0 and still have content.
    return collectStream(handle.createReadStream({ autoClose: true }), uri, options.maxBytes);
  }

  async getText(uri: string, options: ReadOptions = {}): Promise<string> {
    return (await this.get(uri, options)).toString('utf8');
  }

  async getStream(uri: string, range?: { start: number; end: number }, options: ReadOptions = {}): Promise<Readable> {
    const { handle } = await openRegularFile(uri, range ? undefined : options.maxBytes);
    // createReadStream's `end` is inclusive.
    const stream = handle.createReadStream(range ? { start: range.start, end: Math.max(range.start, range.end - 1), autoClose: true } : { autoClose: true });
    return options.maxBytes !== undefined ? limitStream(stream, uri, options.maxBytes) : stream;
  }

  async head(uri: string): Promise<ObjectInfo | null> {
    try {
      // Every put renames a fresh file into place, so the inode changes with each write:
      // with the nanosecond mtime it makes an etag that two writes never share.
      const info = await stat(uri, { bigint: true });
      if (!info.isFile()) return null;
      return { uri, size: Number(info.size), etag: `${info.ino}-${info.mtimeNs}-${info.size}` };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async exists(uri: string): Promise<boolean> {
    return (await this.head(uri)) !== null;
  }

  async put(uri: string, body: Buffer | string | Uint8Array, options: PutOptions = {}): Promise<string> {
    await mkdir(path.dirname(uri), { recursive: true });
    if (options.ifNoneMatch === '*') {
      // 'wx' fails if the file exists: the local twin of S3's If-None-Match.
      try {
        const handle = await open(uri, 'wx');
        await handle.writeFile(body);
        await handle.close();
      } catch (error) {
        if ((error as { code?: string }).code === 'EEXIST') throw new PreconditionFailedError(uri, { cause: error });
        throw error;
      }
    } else if (options.ifMatch !== undefined) {
      // Compare-and-swap across processes: hold a lock file while checking and replacing.
      await withLockFile(`${uri}.lock`, async () => {
        const current = await this.head(uri);
        if (!current || current.etag !== options.ifMatch) throw new PreconditionFailedError(uri);
        await replaceFile(uri, body);
      });
    } else {
      await replaceFile(uri, body);
    }
    return (await this.head(uri))!.etag;
  }

  async putStream(uri: string, body: Readable, _options: Pick<PutOptions, 'contentType'> = {}): Promise<string> {
    await mkdir(path.dirname(uri), { recursive: true });
    const temporary = `${uri}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await pipeline(body, createWriteStream(temporary));
      await rename(temporary, uri);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return (await this.head(uri))!.etag;
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const root = prefix.endsWith(path.sep) || prefix.endsWith('/') ? prefix : path.dirname(prefix);
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile() && full.startsWith(prefix) && !TEMPORARY_FILE.test(full)) {
          const info = await this.head(full);
          if (info) out.push(info);
        }
      }
    };
    await walk(root);
    return out.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }

  async delete(uri: string): Promise<void> {
    await rm(uri, { force: true });
  }
}
