/**
 * Writes samples into WebDataset tar shards of a bounded size and, at the end, the shard index.
 * A shard is assembled in memory and written with one PUT, so the same code writes to a local
 * folder or to S3 through the ObjectStore.
 */
import type { ObjectStore } from '../../storage';
import { joinUri } from '../../storage';
import { packTar, type TarMember } from '../tar';
import { classCountsOf, SHARD_INDEX_VERSION, SHARD_LABEL_EXTENSION, sniffImageExtension, type DataShardEntry, type DataShardIndex } from './format';
import { DataError } from '../../common/errors';

/** Default shard size: a few hundred MB keeps objects few and each one quick to stream. */
export const DEFAULT_SHARD_BYTES = 256 * 1024 * 1024;
/** Name of the index written beside the shards. */
export const SHARD_INDEX_NAME = 'index.json';

export interface ShardWriterOptions {
  /** Folder (local path or s3:// prefix) the shards and index.json go to. */
  outUri: string;
  store: ObjectStore;
  /** Shard names are `<prefix>-000000.tar`; default "shard". */
  prefix?: string;
  /** A shard is closed before it would grow past this many bytes; default 256 MiB. */
  maxShardBytes?: number;
}

export interface ShardSample {
  /** WebDataset key, unique in the split (see shardKeyFor). */
  key: string;
  /** Encoded image (JPEG, PNG, ...), stored as it is. */
  image: Uint8Array;
  /** Member extension of the image; default: sniffed from its bytes. */
  extension?: string;
  label: number;
}

export class ShardWriteError extends DataError {
  constructor(message: string) {
    super(message, { kind: 'failure' });
    this.name = 'ShardWriteError';
  }
}

// Each tar member costs a 512-byte header plus padding to 512 bytes.
const TAR_BLOCK = 512;
function memberBytes(size: number): number {
  return TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

export class ShardWriter {
  private readonly options: Required<ShardWriterOptions>;
  private members: TarMember[] = [];
  private labels: number[] = [];
  private bytes = 0;
  private readonly shards: DataShardEntry[] = [];
  private readonly keys = new Set<string>();
  private finished = false;

  constructor(options: ShardWriterOptions) {
    this.options = { ...options, prefix: options.prefix ?? 'shard', maxShardBytes: options.maxShardBytes ?? DEFAULT_SHARD_BYTES };
    if (!(this.options.maxShardBytes > 0)) throw new ShardWriteError(`maxShardBytes must be positive, got ${this.options.maxShardBytes}`);
  }

  /** Items written so far. */
  get count(): number {
    return this.shards.reduce((sum, shard) => sum + shard.count, 0) + this.labels.length;
  }

  async add(sample: ShardSample): Promise<void> {
    if (this.finished) throw new ShardWriteError('add() after finish()');
    const { key, label } = sample;
    if (key.length === 0 || key.slice(key.lastIndexOf('/') + 1).includes('.')) {
      throw new ShardWriteError(`shard key "${key}" must be non-empty with no "." in its last segment (WebDataset splits names at the first dot)`);
    }
    if (this.keys.has(key)) throw new ShardWriteError(`shard key "${key}" is used twice`);
    if (!Number.isInteger(label) || label < 0) throw new ShardWriteError(`label of "${key}" must be a non-negative integer, got ${label}`);
    const extension = sample.extension ?? sniffImageExtension(sample.image);
    if (!extension) throw new ShardWriteError(`cannot tell the image format of "${key}" from its bytes: pass its extension`);
    this.keys.add(key);
    const labelText = Buffer.from(String(label));
    const size = memberBytes(sample.image.length) + memberBytes(labelText.length);
    if (this.labels.length > 0 && this.bytes + size > this.options.maxShardBytes) await this.flush();
    this.members.push({ name: `${key}.${extension}`, bytes: Buffer.from(sample.image) }, { name: `${key}.${SHARD_LABEL_EXTENSION}`, bytes: labelText });
    this.labels.push(label);
    this.bytes += size;
  }

  private async flush(): Promise<void> {
    if (this.labels.length === 0) return;
    const name = `${this.options.prefix}-${String(this.shards.length).padStart(6, '0')}.tar`;
    const tar = await packTar(this.members);
    await this.options.store.put(joinUri(this.options.outUri, name), tar, { contentType: 'application/x-tar' });
    this.shards.push({ uri: name, count: this.labels.length, classCounts: classCountsOf(this.labels), bytes: tar.length, labels: this.labels });
    this.members = [];
    this.labels = [];
    this.bytes = 0;
  }

  /** Writes the last shard and the index; returns the index and its URI. */
  async finish(): Promise<{ index: DataShardIndex; indexUri: string }> {
    if (this.finished) throw new ShardWriteError('finish() called twice');
    await this.flush();
    this.finished = true;
    if (this.shards.length === 0) throw new ShardWriteError(`no samples were written to ${this.options.outUri}`);
    const index: DataShardIndex = { version: SHARD_INDEX_VERSION, format: 'webdataset', shards: this.shards };
    const indexUri = joinUri(this.options.outUri, SHARD_INDEX_NAME);
    await this.options.store.put(indexUri, JSON.stringify(index), { contentType: 'application/json' });
    return { index, indexUri };
  }
}
