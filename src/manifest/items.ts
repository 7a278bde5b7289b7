/**
 * Reading a split's items from any of the four forms, one at a time: inline items,
 * a JSONL file, a `path label` list file, or WebDataset shards. Referenced files are
 * streamed line by line (readline over store.getStream) so a million-item split never
 * sits in memory. The validator scans with `scanItems` (items and problems as they
 * come); the data loader uses `readItems`, which stops at the first problem.
 */
import { createInterface } from 'node:readline';
import * as tar from 'tar-stream';
import { ObjectNotFoundError, storeFor, type ObjectStore } from '../storage';
import { formatJsonPath, problemCode } from './problems';
import { imagePathProblem, resolveReference } from './references';
import { Item, type ItemSource, type ManifestProblem } from './schema';
import { ShardIndex, SHARD_LABEL_EXTENSION } from './shard-index';
import { problemsFromIssues } from './zod-problems';

export interface ReadItemsContext {
  /** Where the manifest lives: relative references resolve against its folder. */
  manifestUri?: string;
  /** Store for every referenced file; default: storeFor(uri) per file. */
  store?: ObjectStore;
  /** Class names in label order: labels may be indices or names. */
  classNames: readonly string[];
  /** The split's name, for problem paths (`train.items[3].label`). Default 'train'. */
  split?: 'train' | 'test';
}

export interface ManifestItem {
  /** Image path relative to `images` (inline, JSONL, list), or the member name inside the shard. */
  path: string;
  /** Class index. */
  label: number;
  /** 1-based line in the referenced file (JSONL, list). */
  line?: number;
  /** The shard holding the item (shards form). */
  shard?: string;
}

/** Where an item was found: an inline item's index, or a referenced file's line. Formatted only when needed. */
export type ItemOrigin = { split: string; index: number } | { reference: string; line: number };

/** Problem path of an item or one of its fields: `train.items[3].label`, or `train.txt:17` for a file's line. */
export function originPath(origin: ItemOrigin, field?: 'path' | 'label'): string {
  if ('reference' in origin) return `${origin.reference}:${origin.line}`;
  const item = formatJsonPath([origin.split, 'items', origin.index]);
  return field ? `${item}.${field}` : item;
}

/** `{ line }` for an item from a file, `{}` for an inline one (whose line is the manifest's, added later). */
export function originLine(origin: ItemOrigin): { line?: number } {
  return 'line' in origin ? { line: origin.line } : {};
}

export type ScanEvent = { kind: 'item'; item: ManifestItem; origin: ItemOrigin } | { kind: 'problem'; problem: ManifestProblem };

/** The first problem of a split the data loader was asked to read. */
export class ManifestItemsError extends Error {
  constructor(readonly problem: ManifestProblem) {
    super(`cannot read items at ${problem.path}: ${problem.message}`);
    this.name = 'ManifestItemsError';
  }
}

/** Resolves a raw label (index or class name) to an index, or explains why it cannot. */
export class LabelResolver {
  private readonly byName = new Map<string, number>();

  constructor(private readonly classNames: readonly string[]) {
    classNames.forEach((name, index) => {
      if (!this.byName.has(name)) this.byName.set(name, index);
    });
  }

  resolve(raw: unknown): number | string {
    const count = this.classNames.length;
    if (typeof raw === 'number') {
      if (Number.isInteger(raw) && raw >= 0 && raw < count) return raw;
      return `expected a class index in [0, ${count - 1}] or a class name, got ${raw}`;
    }
    if (typeof raw === 'string') {
      const index = this.byName.get(raw);
      if (index !== undefined) return index;
      const hint = /^\d+$/.test(raw) ? ` (a quoted number is read as a name; the index ${raw} is ${Number(raw) < count ? 'valid' : 'out of range'} as a number)` : '';
      return `expected a class index in [0, ${count - 1}] or one of the ${count} class names, got the unknown name ${JSON.stringify(raw.slice(0, 60))}${hint}`;
    }
    return `expected a class index or name, got ${raw === null ? 'null' : typeof raw}`;
  }
}

async function openLines(uri: string, store: ObjectStore): Promise<AsyncIterable<string>> {
  const stream = await store.getStream(uri);
  return createInterface({ input: stream, crlfDelay: Infinity });
}

function missingFileProblem(field: string, uri: string, error: unknown): ManifestProblem {
  const reason = error instanceof ObjectNotFoundError ? 'no such file' : (error as Error).message;
  return { path: field, message: `expected a readable file at ${uri}, got: ${reason}`, code: 'reference' };
}

/** The item's checked event: the image path and the label, or the problems with them. */
function* checkedItem(rawPath: string, rawLabel: unknown, labels: LabelResolver, origin: ItemOrigin, extra: Partial<ManifestItem> = {}): Generator<ScanEvent> {
  const pathIssue = imagePathProblem(rawPath);
  const label = labels.resolve(rawLabel);
  if (pathIssue) yield { kind: 'problem', problem: { path: originPath(origin, 'path'), message: pathIssue, ...originLine(origin), code: 'image-path' } };
  if (typeof label === 'string') yield { kind: 'problem', problem: { path: originPath(origin, 'label'), message: label, ...originLine(origin), code: 'label' } };
  if (!pathIssue && typeof label === 'number') yield { kind: 'item', item: { path: rawPath, label, ...originLine(origin), ...extra }, origin };
}

function* scanInline(items: readonly Item[], split: string, labels: LabelResolver): Generator<ScanEvent> {
  for (let index = 0; index < items.length; index++) {
    const item = items[index]!;
    yield* checkedItem(item.path, item.label, labels, { split, index });
  }
}

function* scanJsonlLine(text: string, reference: string, line: number, labels: LabelResolver): Generator<ScanEvent> {
  const origin = { reference, line };
  const where = originPath(origin);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    yield { kind: 'problem', problem: { path: where, message: `expected a JSON object {"path": ..., "label": ...}, got invalid JSON (${(error as Error).message})`, line, code: 'syntax' } };
    return;
  }
  const parsed = Item.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    for (const problem of problemsFromIssues(parsed.error.issues, { schema: Item, input: value })) {
      const field = problem.path.length > 0 ? `${problem.path}: ` : '';
      yield { kind: 'problem', problem: { path: where, message: `${field}${problem.message}`, line, code: problemCode(problem) } };
    }
    return;
  }
  yield* checkedItem(parsed.data.path, parsed.data.label, labels, origin);
}

function* scanListLine(text: string, reference: string, line: number, labels: LabelResolver): Generator<ScanEvent> {
  const origin = { reference, line };
  const match = /^(.*\S)\s+(\S+)$/.exec(text.trim());
  if (!match) {
    yield { kind: 'problem', problem: { path: originPath(origin), message: `expected "relative/path label", got ${JSON.stringify(text.slice(0, 80))}`, line, code: 'schema' } };
    return;
  }
  const token = match[2]!;
  yield* checkedItem(match[1]!, /^\d+$/.test(token) ? Number(token) : token, labels, origin);
}

/** The forms whose items are listed one by one (shards are described by their index instead). */
export type ListedItemSource = Exclude<ItemSource, { shards: string }>;

/**
 * Every item of an inline, JSONL or list split, with problems interleaved as found.
 * Shards are checked from their index instead (shard-checks.ts).
 */
export async function* scanItems(source: ListedItemSource, ctx: ReadItemsContext): AsyncGenerator<ScanEvent> {
  const split = ctx.split ?? 'train';
  const labels = new LabelResolver(ctx.classNames);
  if ('items' in source) {
    yield* scanInline(source.items, split, labels);
    return;
  }
  const [kind, reference] = 'jsonl' in source ? (['jsonl', source.jsonl] as const) : (['list', source.list] as const);
  let lines: AsyncIterable<string>;
  try {
    const uri = resolveReference(reference, ctx.manifestUri);
    lines = await openLines(uri, ctx.store ?? (await storeFor(uri)));
  } catch (error) {
    yield { kind: 'problem', problem: missingFileProblem(formatJsonPath([split, kind]), reference, error) };
    return;
  }
  const scanLine = kind === 'jsonl' ? scanJsonlLine : scanListLine;
  let line = 0;
  for await (const raw of lines) {
    line++;
    const text = line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    if (text.trim().length === 0) continue;
    yield* scanLine(text, reference, line, labels);
  }
}

/** Reads and checks a shard index; throws ManifestItemsError naming the first problem. */
export async function readShardIndex(uri: string, store?: ObjectStore): Promise<ShardIndex> {
  const text = await (store ?? (await storeFor(uri))).getText(uri);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ManifestItemsError({ path: uri, message: `expected a JSON shard index, got invalid JSON (${(error as Error).message})`, code: 'shard-index' });
  }
  const parsed = ShardIndex.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const [first] = problemsFromIssues(parsed.error.issues, { schema: ShardIndex, input: value, pathPrefix: `${uri}:` });
    throw new ManifestItemsError({ ...first!, code: 'shard-index' });
  }
  return parsed.data;
}

/** The samples of one tar shard: `<key>.cls` holds the label, the other member of the key is the image. */
async function* readShard(shardUri: string, store: ObjectStore, classCount: number): AsyncGenerator<ManifestItem> {
  const extract = tar.extract();
  const input = await store.getStream(shardUri);
  input.on('error', (error) => extract.destroy(error));
  input.pipe(extract);
  const pending = new Map<string, { image?: string; label?: number }>();
  for await (const entry of extract) {
    const name = entry.header.name;
    const dot = name.lastIndexOf('.');
    if (entry.header.type !== 'file' || dot <= 0) {
      entry.resume();
      continue;
    }
    const key = name.slice(0, dot);
    const sample = pending.get(key) ?? {};
    if (name.slice(dot + 1) === SHARD_LABEL_EXTENSION) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8').trim();
      const label = Number(text);
      if (!/^\d+$/.test(text) || label >= classCount) {
        throw new ManifestItemsError({ path: `${shardUri}:${name}`, message: `expected a class index in [0, ${classCount - 1}], got ${JSON.stringify(text.slice(0, 40))}`, code: 'label' });
      }
      sample.label = label;
    } else {
      entry.resume();
      sample.image = name;
    }
    if (sample.image !== undefined && sample.label !== undefined) {
      pending.delete(key);
      yield { path: sample.image, label: sample.label, shard: shardUri };
    } else pending.set(key, sample);
  }
  const [incomplete] = pending.keys();
  if (incomplete !== undefined) {
    throw new ManifestItemsError({ path: `${shardUri}:${incomplete}`, message: `expected an image and a .${SHARD_LABEL_EXTENSION} member for sample "${incomplete}", got only one`, code: 'shard-index' });
  }
}

/**
 * The items of a split, labels resolved to indices. Throws ManifestItemsError at the first
 * bad item (the validator has normally refused such a manifest already).
 */
export async function* readItems(source: ItemSource, ctx: ReadItemsContext): AsyncGenerator<ManifestItem> {
  if ('shards' in source) {
    const indexUri = resolveReference(source.shards, ctx.manifestUri);
    const store = ctx.store ?? (await storeFor(indexUri));
    const index = await readShardIndex(indexUri, store);
    for (const shard of index.shards) {
      const shardUri = resolveReference(shard.uri, indexUri);
      yield* readShard(shardUri, ctx.store ?? (await storeFor(shardUri)), ctx.classNames.length);
    }
    return;
  }
  for await (const event of scanItems(source, ctx)) {
    if (event.kind === 'problem') throw new ManifestItemsError(event.problem);
    yield event.item;
  }
}

