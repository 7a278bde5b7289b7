/**
 * Tiny CIFAR-100 archives in the official layouts, built byte by byte: the binary version's
 * 3074-byte records and the python version's pickles as Python 2's cPickle (protocol 2) wrote
 * them (str keys as SHORT_BINSTRING, the numpy array via numpy.core.multiarray._reconstruct
 * with its raw bytes as BINSTRING).
 */
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const CLASS_NAMES = Array.from({ length: 100 }, (_, i) => `class_${String(i).padStart(2, '0')}`);

/** The planar pixels of image `index` of a split: R plane, G plane, B plane, each a function of the index. */
export function cifarPixels(index: number, split: 'train' | 'test'): Uint8Array {
  const out = new Uint8Array(3072);
  const base = split === 'train' ? index : index + 101;
  for (let p = 0; p < 1024; p++) {
    out[p] = (base + p) % 256;
    out[1024 + p] = (base * 3) % 256;
    out[2048 + p] = (p * 7) % 256;
  }
  return out;
}

export interface TinyCifar {
  trainLabels: number[];
  testLabels: number[];
}

/** `perClass` training images of every class, interleaved (label = i mod 100), and 2 test images per class. */
export function tinyCifar(perClass: number): TinyCifar {
  return {
    trainLabels: Array.from({ length: perClass * 100 }, (_, i) => i % 100),
    testLabels: Array.from({ length: 200 }, (_, i) => (i * 7) % 100),
  };
}

async function tarGz(members: Record<string, Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, bytes] of Object.entries(members)) pack.entry({ name }, bytes);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

function binaryRecords(labels: number[], split: 'train' | 'test'): Buffer {
  return Buffer.concat(labels.map((label, i) => Buffer.concat([Buffer.from([label % 20, label]), cifarPixels(i, split)])));
}

export async function binaryArchive(data: TinyCifar): Promise<Buffer> {
  return tarGz({
    'cifar-100-binary/coarse_label_names.txt': Buffer.from(Array.from({ length: 20 }, (_, i) => `coarse_${i}`).join('\n') + '\n'),
    'cifar-100-binary/fine_label_names.txt': Buffer.from(CLASS_NAMES.join('\n') + '\n\n'),
    'cifar-100-binary/train.bin': binaryRecords(data.trainLabels, 'train'),
    'cifar-100-binary/test.bin': binaryRecords(data.testLabels, 'test'),
  });
}

/** Python 2 cPickle, protocol 2, opcode by opcode. */
class Py2Pickler {
  private parts: Buffer[] = [];
  private memo = 0;
  op(...bytes: number[]): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  put(): this {
    return this.op(0x71, ++this.memo & 0xff); // BINPUT
  }
  int(value: number): this {
    if (value >= 0 && value < 256) return this.op(0x4b, value); // BININT1
    if (value >= 0 && value < 65536) return this.op(0x4d, value & 0xff, value >> 8); // BININT2
    const b = Buffer.alloc(5);
    b[0] = 0x4a; // BININT
    b.writeInt32LE(value, 1);
    this.parts.push(b);
    return this;
  }
  str(value: Buffer | string): this {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1');
    if (bytes.length < 256) this.op(0x55, bytes.length); // SHORT_BINSTRING
    else {
      const header = Buffer.alloc(5);
      header[0] = 0x54; // BINSTRING
      header.writeUInt32LE(bytes.length, 1);
      this.parts.push(header);
      this.parts.push(bytes);
      return this.put();
    }
    this.parts.push(bytes);
    return this.put();
  }
  global(module: string, name: string): this {
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
    return this.put();
  }
  intList(values: number[]): this {
    this.op(0x5d).put(); // EMPTY_LIST
    for (let start = 0; start < values.length; start += 1000) {
      this.op(0x28); // MARK
      for (const v of values.slice(start, start + 1000)) this.int(v);
      this.op(0x65); // APPENDS
    }
    return this;
  }
  strList(values: string[]): this {
    this.op(0x5d).put().op(0x28);
    for (const v of values) this.str(v);
    return this.op(0x65);
  }
  uint8Array(rows: number, columns: number, data: Buffer): this {
    this.global('numpy.core.multiarray', '_reconstruct').global('numpy', 'ndarray').int(0).op(0x85).str('b').op(0x87, 0x52).put(); // TUPLE3 REDUCE
    this.op(0x28).int(1).int(rows).int(columns).op(0x86); // MARK version (rows, columns)
    this.global('numpy', 'dtype').str('u1').int(0).int(1).op(0x87, 0x52).put(); // dtype('u1', 0, 1)
    this.op(0x28).int(3).str('|').op(0x4e, 0x4e, 0x4e).int(-1).int(-1).int(0).op(0x74, 0x62); // dtype state (3, '|', None, None, None, -1, -1, 0), BUILD
    return this.op(0x89).str(data).op(0x74, 0x62); // NEWFALSE (C order), raw bytes, TUPLE, BUILD
  }
  /** A dict of str keys, values written by the callbacks. */
  dict(entries: [string, (p: this) => void][]): this {
    this.op(0x7d).put().op(0x28); // EMPTY_DICT MARK
    for (const [key, write] of entries) {
      this.str(key);
      write(this);
    }
    return this.op(0x75); // SETITEMS
  }
  bytes(): Buffer {
    return Buffer.concat([Buffer.from([0x80, 0x02]), ...this.parts, Buffer.from('.')]);
  }
}

export function py2SplitPickle(labels: number[], split: 'train' | 'test'): Buffer {
  const data = Buffer.concat(labels.map((_, i) => cifarPixels(i, split)));
  return new Py2Pickler()
    .dict([
      ['filenames', (p) => p.strList(labels.map((_, i) => `image_${i}.png`))],
      ['batch_label', (p) => p.str(`${split}ing batch 1 of 1`)],
      ['fine_labels', (p) => p.intList(labels)],
      ['coarse_labels', (p) => p.intList(labels.map((l) => l % 20))],
      ['data', (p) => p.uint8Array(labels.length, 3072, data)],
    ])
    .bytes();
}

export function py2MetaPickle(): Buffer {
  return new Py2Pickler()
    .dict([
      ['fine_label_names', (p) => p.strList(CLASS_NAMES)],
      ['coarse_label_names', (p) => p.strList(Array.from({ length: 20 }, (_, i) => `coarse_${i}`))],
    ])
    .bytes();
}

export async function pythonArchive(data: TinyCifar): Promise<Buffer> {
  return tarGz({
    'cifar-100-python/file.txt~': Buffer.from(''),
    'cifar-100-python/meta': py2MetaPickle(),
    'cifar-100-python/train': py2SplitPickle(data.trainLabels, 'train'),
    'cifar-100-python/test': py2SplitPickle(data.testLabels, 'test'),
  });
}
