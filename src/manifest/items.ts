/**
 * Reading a split's listed items one at a time: inline items, a JSONL file, or a
 * `path label` list file (shards are described by their index: src/data/shards/format.ts,
 * checked by shard-checks.ts). Referenced files are streamed line by line with bounds
 * (lines.ts) so a million-item split never sits in memory and an endless file ends in a
 * problem. The validator scans with `scanItems` (items and problems as they come); the
 * data loader uses `readItems`, which stops at the first problem.
 */
import { ObjectNotFoundError, ObjectNotRegularFileError, ObjectTooLargeError, storeFor, type ObjectStore } from '../storage';
import { ITEM_FILE_LIMITS, ManifestFileLimitError, readBoundedLines, type TextLine } from './lines';
import { formatJsonPath, problemCode } from './problems';
import { imagePathProblem, resolveReference, type ReferencePolicy } from './references';
import { Item, type ItemSource, type ManifestProblem } from './schema';
import { problemsFromIssues } from './zod-problems';
import { ManifestError } from '../common/errors';

export interface ReadItemsContext {
  /** Where the manifest lives: relative references resolve against its folder. */
  manifestUri?: string;
  /** Store for every referenced file; default: storeFor(uri) per file. */
  store?: ObjectStore;
  /** Class names in label order: labels may be indices or names. */
  classNames: readonly string[];
  /** The split's name, for problem paths (`train.items[3].label`). Default 'train'. */
  split?: 'train' | 'test' | 'val';
  /** Where references may point; default: the policy of `manifestUri` (S3 only for an S3 manifest). */
  policy?: ReferencePolicy;
  /** Stop reading a list or JSONL file past this time (Date.now() ms), reporting the line reached. */
  deadline?: number;
}

export interface ManifestItem {
  /** Image path relative to `images` (inline, JSONL, list), or the member name inside the shard. */
  path: string;
  /** Class index. */
  label: number;
  /** 1-based line in the referenced file (JSONL, list). */
  line?: number;
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
export class ManifestItemsError extends ManifestError {
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

async function openLines(uri: string, store: ObjectStore, deadline: number | undefined): Promise<AsyncIterable<TextLine>> {
  const stream = await store.getStream(uri, undefined, { maxBytes: ITEM_FILE_LIMITS.maxBytes });
  return readBoundedLines(stream, uri, deadline === undefined ? ITEM_FILE_LIMITS : { ...ITEM_FILE_LIMITS, deadline });
}

/** Why a referenced file cannot be read, in words that quote nothing read from it. */
export function unreadableFileReason(error: unknown): string {
  if (error instanceof ObjectNotFoundError) return 'no such file';
  if (error instanceof ObjectNotRegularFileError) return `it is ${error.fileKind}, not a regular file`;
  if (error instanceof ObjectTooLargeError) return error.message;
  return (error as Error).message;
}

function missingFileProblem(field: string, reference: string, error: unknown): ManifestProblem {
  const message = error instanceof Error && error.name === 'ManifestReferenceError' ? error.message : `expected a readable file at ${reference}, got: ${unreadableFileReason(error)}`;
  return { path: field, message, code: error instanceof ObjectTooLargeError ? 'limit' : 'reference' };
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
  let lines: AsyncIterable<TextLine>;
  try {
    const uri = resolveReference(reference, ctx.manifestUri, ctx.policy);
    lines = await openLines(uri, ctx.store ?? (await storeFor(uri)), ctx.deadline);
  } catch (error) {
    yield { kind: 'problem', problem: missingFileProblem(formatJsonPath([split, kind]), reference, error) };
    return;
  }
  const scanLine = kind === 'jsonl' ? scanJsonlLine : scanListLine;
  try {
    for await (const read of lines) {
      const { line } = read;
      if ('invalidUtf8At' in read) {
        yield { kind: 'problem', problem: { path: `${reference}:${line}`, message: `expected UTF-8 text, got an invalid byte sequence at byte offset ${read.invalidUtf8At} of the file`, line, code: 'encoding' } };
        continue;
      }
      const text = line === 1 && read.text.charCodeAt(0) === 0xfeff ? read.text.slice(1) : read.text;
      if (text.trim().length === 0) continue;
      yield* scanLine(text, reference, line, labels);
    }
  } catch (error) {
    if (!(error instanceof ManifestFileLimitError)) throw error;
    // The message names the file as resolved; report it under the reference as written.
    yield { kind: 'problem', problem: { path: `${reference}:${error.line}`, message: error.message, line: error.line, code: 'limit' } };
  }
}

/**
 * The items of a listed split, labels resolved to indices. Throws ManifestItemsError at the
 * first bad item (the validator has normally refused such a manifest already).
 */
export async function* readItems(source: ListedItemSource, ctx: ReadItemsContext): AsyncGenerator<ManifestItem> {
  for await (const event of scanItems(source, ctx)) {
    if (event.kind === 'problem') throw new ManifestItemsError(event.problem);
    yield event.item;
  }
}

