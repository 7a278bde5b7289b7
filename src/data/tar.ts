/**
 * Tar archives as async sequences of whole members (names and bytes). Reading is the loader's
 * hot path, so it is a small streaming parser of its own (ustar, pax and GNU long names; about
 * 20× faster than tar-stream's extract on shards of small images); writing uses tar-stream's
 * pack. A gzip layer on an archive is detected and removed.
 */
import { PassThrough, Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { DataError } from '../common/errors';

export interface TarMember {
  /** Path inside the archive. */
  name: string;
  bytes: Buffer;
}

export class TarFormatError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

const BLOCK = 512;
const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Pulls exact byte counts out of a stream of chunks, copying only when a read spans chunks. */
class ChunkReader {
  private chunks: Buffer[] = [];
  private available = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterator<Buffer | Uint8Array | string>) {}

  /** The next `n` bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    while (this.available < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) this.ended = true;
      else {
        const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
        this.chunks.push(chunk);
        this.available += chunk.length;
      }
    }
    const take = Math.min(n, this.available);
    let out: Buffer;
    if (this.chunks.length > 0 && this.chunks[0]!.length >= take) {
      out = this.chunks[0]!.subarray(0, take);
      this.chunks[0] = this.chunks[0]!.subarray(take);
      if (this.chunks[0].length === 0) this.chunks.shift();
    } else {
      out = Buffer.allocUnsafe(take);
      let filled = 0;
      while (filled < take) {
        const chunk = this.chunks[0]!;
        const part = Math.min(chunk.length, take - filled);
        chunk.copy(out, filled, 0, part);
        filled += part;
        if (part === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(part);
      }
    }
    this.available -= take;
    return out;
  }
}

function text(header: Buffer, start: number, length: number): string {
  const field = header.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end < 0 ? length : end);
}

function octal(header: Buffer, start: number, length: number): number {
  // GNU base-256 for sizes of 8 GiB and more: high bit set, big-endian value in the rest.
  if (header[start]! & 0x80) {
    let value = header[start]! & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + header[i]!;
    return value;
  }
  const digits = text(header, start, length).trim();
  return digits.length === 0 ? 0 : parseInt(digits, 8);
}

function checksumMatches(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === octal(header, 148, 8);
}

/** The `path` record of a pax extended header, if any ("<length> path=<value>\n" records). */
function paxPath(data: Buffer): string | undefined {
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = parseInt(data.toString('latin1', at, space), 10);
    if (!(length > 0)) break;
    const record = data.toString('utf8', space + 1, at + length - 1);
    if (record.startsWith('path=')) return record.slice(5);
    at += length;
  }
  return undefined;
}

/** Regular files of a tar stream, in archive order. Directories, links and metadata members are skipped. */
export async function* readTarMembers(source: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<TarMember> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    yield* parseMembers(new ChunkReader(iterator));
  } finally {
    // Stops (and, for a stream, destroys) the source when the consumer stops early.
    await iterator.return?.();
  }
}

async function* parseMembers(reader: ChunkReader): AsyncGenerator<TarMember> {
  let longName: string | undefined;
  let offset = 0;
  for (;;) {
    const header = await reader.read(BLOCK);
    if (header.length === 0) return; // tolerated: an archive without end-of-archive blocks
    if (header.length < BLOCK) throw new TarFormatError(`the archive ends inside a header at byte ${offset}`);
    if (header.every((byte) => byte === 0)) return;
    if (!checksumMatches(header)) throw new TarFormatError(`bad header checksum at byte ${offset}: not a tar archive, or a corrupt one`);
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156]!);
    const prefix = text(header, 257, 6) === 'ustar' ? text(header, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
    const data = await reader.read(size);
    if (data.length < size) throw new TarFormatError(`the archive ends inside "${name}" (${data.length} of ${size} bytes)`);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding > 0) await reader.read(padding);
    offset += BLOCK + size + padding;
    if (type === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    longName = undefined;
    if (type === '0' || type === '\0' || type === '7') yield { name, bytes: data };
  }
}

/** Like readTarMembers, for a possibly gzipped archive held in memory. */
export function readArchiveMembers(archive: Buffer): AsyncGenerator<TarMember> {
  const gzipped = archive[0] === GZIP_MAGIC[0] && archive[1] === GZIP_MAGIC[1];
  if (!gzipped) return readTarMembers(Readable.from([archive]));
  const out = new PassThrough();
  pipeline(Readable.from([archive]), createGunzip(), out, () => {
    // A gzip error destroys `out`, and iterating it throws.
  });
  return readTarMembers(out);
}

/** Builds a tar in memory from members (shards are a few hundred MB: one buffer, one PUT). */
export async function packTar(members: Iterable<TarMember>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  // A fixed mtime keeps shards byte-identical across runs of the same ingestion.
  const mtime = new Date(0);
  for (const member of members) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name: member.name, size: member.bytes.length, mtime, mode: 0o644 }, member.bytes, (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}
