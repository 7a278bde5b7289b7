/**
 * CIFAR-100 from its official archives, as decoded pixel records plus the class names of the
 * archive's meta file. Two layouts are read:
 *  - `cifar-100-binary.tar.gz`: train.bin / test.bin, records of 1 coarse label byte, 1 fine
 *    label byte and 3072 pixel bytes (R, G, B planes of 32×32); fine_label_names.txt.
 *  - `cifar-100-python.tar.gz`: pickled dicts `train` / `test` with `data` (a uint8 numpy array
 *    [n, 3072], same planar layout) and `fine_labels`; `meta` with `fine_label_names`.
 */
import sharp from 'sharp';
import { readArchiveMembers } from '../tar';
import { NumpyArray, readPickleDict, type PickleValue } from './pickle';
import { DataError } from '../../common/errors';

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE * 3;
const BINARY_RECORD = 2 + CIFAR_PIXELS;

export interface CifarSplit {
  /** Fine label per image. */
  labels: number[];
  /** `labels.length` images of 3072 bytes each, planar R, G, B. */
  pixels: Uint8Array;
}

export interface CifarArchive {
  layout: 'binary' | 'python';
  classNames: string[];
  train: CifarSplit;
  test: CifarSplit;
}

export class CifarArchiveError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'CifarArchiveError';
  }
}

function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

function parseBinarySplit(bytes: Buffer, name: string): CifarSplit {
  if (bytes.length % BINARY_RECORD !== 0) {
    throw new CifarArchiveError(`${name} has ${bytes.length} bytes, not a whole number of ${BINARY_RECORD}-byte records (coarse label, fine label, 3072 pixels)`);
  }
  const n = bytes.length / BINARY_RECORD;
  const labels: number[] = [];
  const pixels = new Uint8Array(n * CIFAR_PIXELS);
  for (let i = 0; i < n; i++) {
    const record = i * BINARY_RECORD;
    labels.push(bytes[record + 1]!);
    pixels.set(bytes.subarray(record + 2, record + BINARY_RECORD), i * CIFAR_PIXELS);
  }
  return { labels, pixels };
}

function asNumbers(value: PickleValue | undefined, what: string): number[] {
  if (value instanceof NumpyArray) return value.toNumbers();
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value as number[];
  throw new CifarArchiveError(`${what} should be a list of integers or a numpy array`);
}

function asText(value: PickleValue): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  throw new CifarArchiveError(`expected a class name (str or bytes), got ${typeof value}`);
}

function parsePythonSplit(bytes: Buffer, name: string): CifarSplit {
  const dict = readPickleDict(bytes, name);
  const data = dict.get('data');
  if (!(data instanceof NumpyArray)) throw new CifarArchiveError(`${name}: expected "data" to be a numpy array, got ${data === undefined ? 'no such key' : typeof data}`);
  if (data.shape.length !== 2 || data.shape[1] !== CIFAR_PIXELS || data.dtype.code.replace(/^[<>|=]/, '') !== 'u1') {
    throw new CifarArchiveError(`${name}: expected "data" of shape [n, ${CIFAR_PIXELS}] and dtype uint8, got [${data.shape}] ${data.dtype.code}`);
  }
  if (data.fortranOrder) throw new CifarArchiveError(`${name}: "data" is in Fortran order; expected C order`);
  const labels = asNumbers(dict.get('fine_labels'), `${name}: "fine_labels"`);
  if (labels.length !== data.shape[0]) throw new CifarArchiveError(`${name}: ${labels.length} fine_labels for ${data.shape[0]} images`);
  return { labels, pixels: data.data };
}

function parseNames(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** Reads a CIFAR-100 archive (binary or python version, gzipped or not). */
export async function readCifar100Archive(archive: Buffer): Promise<CifarArchive> {
  const found = new Map<string, Buffer>();
  const wanted = new Set(['train.bin', 'test.bin', 'fine_label_names.txt', 'train', 'test', 'meta']);
  for await (const member of readArchiveMembers(archive)) {
    const name = baseName(member.name);
    if (wanted.has(name)) found.set(name, member.bytes);
  }
  if (found.has('train.bin') && found.has('test.bin')) {
    const names = found.get('fine_label_names.txt');
    if (!names) throw new CifarArchiveError('the binary archive has train.bin and test.bin but no fine_label_names.txt');
    return { layout: 'binary', classNames: parseNames(names.toString('utf8')), train: parseBinarySplit(found.get('train.bin')!, 'train.bin'), test: parseBinarySplit(found.get('test.bin')!, 'test.bin') };
  }
  if (found.has('train') && found.has('test') && found.has('meta')) {
    const meta = readPickleDict(found.get('meta')!, 'meta');
    const names = meta.get('fine_label_names');
    if (!Array.isArray(names)) throw new CifarArchiveError('meta: expected "fine_label_names" to be a list');
    return { layout: 'python', classNames: names.map(asText), train: parsePythonSplit(found.get('train')!, 'train'), test: parsePythonSplit(found.get('test')!, 'test') };
  }
  throw new CifarArchiveError(
    `not a CIFAR-100 archive: expected train.bin, test.bin and fine_label_names.txt (binary version) or train, test and meta (python version); found ${[...found.keys()].join(', ') || 'none of them'}`,
  );
}

/** Image i of a split as a lossless PNG (planar RGB → interleaved). */
export async function cifarImagePng(split: CifarSplit, i: number): Promise<Buffer> {
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  const source = split.pixels.subarray(i * CIFAR_PIXELS, (i + 1) * CIFAR_PIXELS);
  const rgb = Buffer.alloc(CIFAR_PIXELS);
  for (let p = 0; p < plane; p++) {
    rgb[3 * p] = source[p]!;
    rgb[3 * p + 1] = source[plane + p]!;
    rgb[3 * p + 2] = source[2 * plane + p]!;
  }
  return sharp(rgb, { raw: { width: CIFAR_SIDE, height: CIFAR_SIDE, channels: 3 } }).png().toBuffer();
}
