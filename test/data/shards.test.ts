import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/storage';
import { readShardIndex, shardKeyFor, shardUri } from '../../src/data/shards/format';
import { readShardRecords, readShards, type ShardRecord } from '../../src/data/shards/reader';
import { ShardWriter } from '../../src/data/shards/writer';
import { ShardItemStream } from '../../src/data/loader/shard-source';
import { readTarMembers } from '../../src/data/tar';
import { solidPng, tempDir } from './helpers';

const store = new LocalObjectStore();

/** Member names of a tar file, in order, read with tar-stream directly. */
async function memberNames(file: string): Promise<string[]> {
  const extract = tar.extract();
  Readable.from([await readFile(file)]).pipe(extract);
  const names: string[] = [];
  for await (const entry of extract) {
    names.push(entry.header.name);
    entry.resume();
  }
  return names;
}

async function writeSamples(outUri: string, count: number, maxShardBytes: number): Promise<void> {
  const writer = new ShardWriter({ outUri, store, prefix: 'train', maxShardBytes });
  for (let i = 0; i < count; i++) await writer.add({ key: `cls${i % 3}/img${i}`, image: await solidPng([i, 0, 0]), label: i % 3 });
  await writer.finish();
}

describe('ShardWriter', () => {
  it('writes WebDataset members (key.png beside key.cls), rolls shards at the size limit, and indexes them', async () => {
    const out = await tempDir('shards');
    await writeSamples(out, 10, 4096);
    const index = await readShardIndex(path.join(out, 'index.json'), store);
    expect(index.format).toBe('webdataset');
    expect(index.shards.length).toBeGreaterThan(1);
    expect(index.shards.reduce((sum, shard) => sum + shard.count, 0)).toBe(10);
    for (const [s, shard] of index.shards.entries()) {
      expect(shard.uri).toBe(`train-${String(s).padStart(6, '0')}.tar`);
      const file = shardUri(path.join(out, 'index.json'), shard);
      const bytes = await readFile(file);
      expect(shard.bytes).toBe(bytes.length);
      expect(bytes.length).toBeLessThanOrEqual(4096 + 1024); // the limit plus the tar's end-of-archive blocks
      const names = await memberNames(file);
      expect(names.length).toBe(2 * shard.count);
      for (let m = 0; m < names.length; m += 2) {
        expect(names[m]).toMatch(/^cls\d\/img\d+\.png$/);
        expect(names[m + 1]).toBe(names[m]!.replace('.png', '.cls'));
      }
      const labels = shard.labels!;
      expect(Object.values(shard.classCounts).reduce((a, b) => a + b, 0)).toBe(shard.count);
      for (const label of new Set(labels)) expect(shard.classCounts[String(label)]).toBe(labels.filter((l) => l === label).length);
    }
  });

  it('refuses keys with dots, reused keys and negative labels', async () => {
    const writer = new ShardWriter({ outUri: await tempDir('bad'), store });
    const image = await solidPng([1, 2, 3]);
    await expect(writer.add({ key: 'a.b', image, label: 0 })).rejects.toThrow(/no "\." in its last segment/);
    await writer.add({ key: 'a', image, label: 0 });
    await expect(writer.add({ key: 'a', image, label: 1 })).rejects.toThrow(/used twice/);
    await expect(writer.add({ key: 'b', image, label: -1 })).rejects.toThrow(/non-negative integer/);
  });

  it('derives WebDataset keys from paths without extension dots', () => {
    expect(shardKeyFor('train/n01440764/n01440764_10026.JPEG')).toBe('train/n01440764/n01440764_10026');
    expect(shardKeyFor('a/b.c.jpg')).toBe('a/b_c');
  });
});

describe('shard reader', () => {
  it('reads back every sample with its label and bytes, across shards, in order', async () => {
    const out = await tempDir('read');
    await writeSamples(out, 7, 3000);
    const indexUri = path.join(out, 'index.json');
    const index = await readShardIndex(indexUri, store);
    const records = [];
    for await (const record of readShards(index.shards.map((s) => shardUri(indexUri, s)), store, { prefetchShards: 2, prefetchBytes: 1024 })) records.push(record);
    expect(records.map((r) => r.key)).toEqual(Array.from({ length: 7 }, (_, i) => `cls${i % 3}/img${i}`));
    expect(records.map((r) => r.label)).toEqual(Array.from({ length: 7 }, (_, i) => i % 3));
    expect(records[4]!.image.equals(await solidPng([4, 0, 0]))).toBe(true);
  });

  it('groups members by key in a hand-made tar and names a sample without a label', async () => {
    const pack = tar.pack();
    pack.entry({ name: 'x/one.jpg' }, Buffer.from([0xff, 0xd8, 0xff, 1]));
    pack.entry({ name: 'x/one.cls' }, '4\n');
    pack.entry({ name: 'x/one.json' }, '{}');
    pack.entry({ name: 'two.png' }, Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    pack.finalize();
    const records: ShardRecord[] = [];
    await expect(
      (async () => {
        for await (const record of readShardRecords(pack as unknown as Readable, 'hand.tar')) records.push(record);
      })(),
    ).rejects.toThrow(/hand\.tar: sample "two" has no \.cls member/);
    expect(records).toMatchObject([{ key: 'x/one', label: 4, extension: 'jpg' }]);
  });

  it('reads labels from the .cls members when the index has no per-sample labels', async () => {
    const out = await tempDir('nolabels');
    await writeSamples(out, 5, 3000);
    const indexUri = path.join(out, 'index.json');
    const index = await readShardIndex(indexUri, store);
    const stripped = { ...index, shards: index.shards.map(({ labels: _labels, ...rest }) => rest) };
    const source = new ShardItemStream(stripped, indexUri, store);
    expect(Array.from(await source.labels())).toEqual([0, 1, 2, 0, 1]);
  });

  it('refuses a sample whose .cls label differs from the index, rather than train on a wrong label', async () => {
    const out = await tempDir('mislabel');
    await writeSamples(out, 3, 1 << 20);
    const indexUri = path.join(out, 'index.json');
    const index = await readShardIndex(indexUri, store);
    const lying = { ...index, shards: [{ ...index.shards[0]!, labels: [0, 2, 2] }] };
    const source = new ShardItemStream(lying, indexUri, store);
    await expect(
      (async () => {
        for await (const _ of source.items({ epoch: 0, shuffle: false, seed: 0 })) void _;
      })(),
    ).rejects.toThrow(/sample "cls1\/img1" is labelled 1 in the shard but 2 in the index/);
  });

  it('fails when a shard holds fewer samples than its index entry says', async () => {
    const out = await tempDir('short');
    await writeSamples(out, 3, 1 << 20);
    const indexUri = path.join(out, 'index.json');
    const index = await readShardIndex(indexUri, store);
    const lying = { ...index, shards: [{ ...index.shards[0]!, count: 4, classCounts: { ...index.shards[0]!.classCounts, '0': 2 }, labels: undefined }] };
    const source = new ShardItemStream(lying, indexUri, store);
    await expect(
      (async () => {
        for await (const _ of source.items({ epoch: 0, shuffle: false, seed: 0 })) void _;
      })(),
    ).rejects.toThrow(/holds 3 samples, its index entry says 4/);
  });
});

describe('tar reader', () => {
  async function packed(entries: [string, string][]): Promise<Buffer> {
    const pack = tar.pack();
    for (const [name, body] of entries) pack.entry({ name }, body);
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  it('reads long member names (ustar prefix and pax) and members split across stream chunks', async () => {
    const ustarLong = `${'d'.repeat(120)}/file.cls`;
    const paxLong = `${'e'.repeat(300)}.cls`;
    const archive = await packed([
      ['short.cls', '1'],
      [ustarLong, '2'.repeat(700)],
      [paxLong, '3'],
    ]);
    // Feed the archive in 100-byte chunks so headers and bodies straddle chunk boundaries.
    const chunks = Array.from({ length: Math.ceil(archive.length / 100) }, (_, i) => archive.subarray(i * 100, (i + 1) * 100));
    const members = [];
    for await (const member of readTarMembers(Readable.from(chunks))) members.push(member);
    expect(members.map((m) => m.name)).toEqual(['short.cls', ustarLong, paxLong]);
    expect(members[1]!.bytes.toString()).toBe('2'.repeat(700));
  });

  it('refuses bytes that are not a tar archive, and one cut short', async () => {
    const notTar = Buffer.alloc(1024, 0x41);
    await expect((async () => {
      for await (const member of readTarMembers(Readable.from([notTar]))) void member;
    })()).rejects.toThrow(/bad header checksum at byte 0/);
    const archive = await packed([['a.cls', 'x'.repeat(2000)]]);
    await expect((async () => {
      for await (const member of readTarMembers(Readable.from([archive.subarray(0, 1000)]))) void member;
    })()).rejects.toThrow(/ends inside "a\.cls"/);
  });
});
