/**
 * Bounded, strict reading of hostile input: the manifest's size and encoding, the line and
 * file limits of list/JSONL files, special files, and an oversized shard index. Each refusal
 * names the field or file and the figure, and reads no further than the limit.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SHARD_INDEX_BYTES } from '../../src/data/shards/format';
import { ManifestFileLimitError, invalidUtf8Offset, readBoundedLines, validateManifest, type ManifestProblem } from '../../src/manifest';
import { seededRandom } from '../../src/manifest/sampling';
import { LocalObjectStore } from '../../src/storage';
import { makeDataset, type TestDataset } from './helpers';

let dataset: TestDataset;
let scratch: string;
beforeEach(async () => {
  dataset = await makeDataset();
  scratch = await mkdtemp(path.join(os.tmpdir(), 'bounds-'));
});
afterEach(async () => {
  await dataset.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

async function problemsOf(document: unknown): Promise<ManifestProblem[]> {
  const result = await validateManifest(JSON.stringify(document), { manifestUri: dataset.manifestUri, store: new LocalObjectStore(), checkStorage: false });
  if (result.ok) throw new Error('expected the manifest to be refused');
  return result.problems;
}

describe('invalidUtf8Offset', () => {
  it('agrees with the WHATWG decoder on where the first bad sequence starts, over random bytes', () => {
    const random = seededRandom(7);
    for (let trial = 0; trial < 2000; trial++) {
      const length = 1 + Math.floor(random() * 12);
      // Mostly ASCII and continuation/lead bytes, so both valid and invalid sequences are common.
      const pool = [0x41, 0x0a, 0x80, 0xbf, 0xc2, 0xc0, 0xe0, 0xed, 0xa0, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff, 0xe2, 0x82, 0xac];
      const bytes = Uint8Array.from({ length }, () => pool[Math.floor(random() * pool.length)]!);
      const decoded = new TextDecoder('utf-8').decode(bytes);
      const replacement = decoded.indexOf('\ufffd');
      const expected = replacement < 0 ? -1 : Buffer.byteLength(decoded.slice(0, replacement), 'utf8');
      expect([Array.from(bytes), invalidUtf8Offset(bytes)]).toEqual([Array.from(bytes), expected]);
    }
  });
});

describe('the manifest itself', () => {
  it('is refused when it is not UTF-8, with the byte offset, instead of silently changing a class name', async () => {
    const text = JSON.stringify({ ...dataset.manifest, classes: ['apple', 'bicycle', 'cloudX'] }, null, 2);
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf('cloudX') + 5;
    bytes[at] = 0xe9; // Latin-1 "é" in a UTF-8 file
    const result = await validateManifest(new Uint8Array(bytes), { manifestUri: dataset.manifestUri, checkStorage: false });
    expect(result).toMatchObject({ ok: false, problems: [{ path: '', code: 'encoding', line: text.slice(0, at).split('\n').length }] });
    if (!result.ok) expect(result.problems[0]!.message).toContain(`invalid byte sequence at byte offset ${at}`);
  });

  it('over 10 MB on disk is refused from its size without being read (a sparse 600 MB file)', async () => {
    const { loadManifest, ManifestValidationError } = await import('../../src/manifest');
    const huge = path.join(scratch, 'huge.json');
    await writeFile(huge, '');
    await truncate(huge, 600 * 1024 * 1024);
    const error = await loadManifest(huge).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ManifestValidationError);
    expect((error as Error).message).toContain('got 629,145,600 bytes');
  });
});

describe('referenced list and JSONL files', () => {
  it('refuse a FIFO and /dev/zero without waiting or reading', async () => {
    const fifo = path.join(dataset.dir, 'train.fifo');
    execFileSync('mkfifo', [fifo]);
    const problems = await problemsOf({ ...dataset.manifest, train: { list: 'train.fifo' }, test: { jsonl: '/dev/zero' } });
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['train.list', 'expected a readable file at train.fifo, got: it is a FIFO (named pipe), not a regular file'],
      ['test.jsonl', 'expected a readable file at /dev/zero, got: it is a character device, not a regular file'],
    ]);
  });

  it('refuse a line longer than 64 KiB at its line number, reading no further', async () => {
    const huge = path.join(dataset.dir, 'long.txt');
    await writeFile(huge, 'a.png 0\n');
    await truncate(huge, 100 * 1024 * 1024); // a sparse file of zeros: one 100 MB line after line 1
    const problems = await problemsOf({ ...dataset.manifest, train: { list: 'long.txt' } });
    expect(problems).toContainEqual(expect.objectContaining({ path: 'long.txt:2', code: 'limit', message: expect.stringContaining(':2: expected lines of at most 65,536 bytes') }));
  });

  it('refuse a file over 1 GiB from its size, before reading it', async () => {
    const huge = path.join(dataset.dir, 'huge.txt');
    await writeFile(huge, '');
    await truncate(huge, 1024 * 1024 * 1024 + 1);
    const problems = await problemsOf({ ...dataset.manifest, train: { list: 'huge.txt' } });
    expect(problems).toContainEqual(expect.objectContaining({ path: 'train.list', code: 'limit', message: `expected a readable file at huge.txt, got: ${huge} is 1,073,741,825 bytes; expected at most 1,073,741,824 bytes` }));
  });

  it('report a line that is not UTF-8 with its line and offset, and go on with the next', async () => {
    const lines = Buffer.concat([Buffer.from('train/apple/0.png 0\ntrain/apple/1.png '), Buffer.from([0xff]), Buffer.from('\ntrain/bicycle/0.png 1\ntrain/cloud/0.png 2\n')]);
    await writeFile(path.join(dataset.dir, 'bad.txt'), lines);
    const problems = await problemsOf({ ...dataset.manifest, train: { list: 'bad.txt' } });
    expect(problems).toEqual([{ path: 'bad.txt:2', line: 2, code: 'encoding', message: `expected UTF-8 text, got an invalid byte sequence at byte offset ${lines.indexOf(0xff)} of the file` }]);
  });

  it('readBoundedLines stops an endless stream at the file limit', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 1;
        this.push(Buffer.from('x.png 0\n'.repeat(1000)));
      },
    });
    const read = async (): Promise<number> => {
      let count = 0;
      for await (const _line of readBoundedLines(endless, 'endless.txt', { maxBytes: 100_000, maxLineBytes: 100 })) count += 1;
      return count;
    };
    await expect(read()).rejects.toBeInstanceOf(ManifestFileLimitError);
    expect(produced).toBeLessThan(20);
  });
});

describe('a shard index', () => {
  it('over its size limit is refused with the figure, before it is read', async () => {
    await mkdir(path.join(dataset.dir, 'shards'), { recursive: true });
    const index = path.join(dataset.dir, 'shards', 'index.json');
    await writeFile(index, '');
    await truncate(index, MAX_SHARD_INDEX_BYTES + 1);
    const problems = await problemsOf({ ...dataset.manifest, train: { shards: 'shards/index.json' } });
    expect(problems).toContainEqual(
      expect.objectContaining({ path: 'train.shards', code: 'limit', message: `expected a readable shard index at shards/index.json, got: ${index} is 67,108,865 bytes; expected at most 67,108,864 bytes` }),
    );
  });
});
