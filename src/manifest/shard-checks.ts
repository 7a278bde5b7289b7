/**
 * Checks of a shards split from its index alone: the index's shape, each shard's class
 * counts against the class list and its item count, and (with storage) that every shard
 * exists. The per-class counts feed the "class with no training items" check. The format
 * itself (schema, cross-checks, the size cap) belongs to src/data/shards/format.ts.
 */
import { MAX_SHARD_INDEX_BYTES, ShardIndex, shardIndexIssues } from '../data/shards/format';
import type { ObjectStore } from '../storage';
import { unreadableFileReason } from './items';
import { findJsonSyntaxError } from './json-text';
import { decodeUtf8, invalidUtf8Offset } from './lines';
import { formatJsonPath } from './problems';
import { resolveReference, type ReferencePolicy } from './references';
import type { ManifestProblem } from './schema';
import { mapConcurrently } from './sampling';
import { problemsFromIssues } from './zod-problems';

export interface ShardSplitCheck {
  /** The split's `shards` reference as written in the manifest. */
  reference: string;
  /** JSON path of the reference (`train.shards`). */
  field: string;
  manifestUri?: string;
  /** Where the index and its shards may be. */
  policy: ReferencePolicy;
  storeFor: (uri: string) => Promise<ObjectStore>;
  classCount: number;
  /** Added to per class; the index's classCounts summed over shards. */
  counts: number[];
  report: (problem: ManifestProblem) => void;
  /** Also check that every shard exists. */
  checkExistence: boolean;
}

/** Shards checked for existence at once. */
const HEAD_CONCURRENCY = 16;

async function readIndexText(check: ShardSplitCheck): Promise<{ indexUri: string; text: string } | undefined> {
  const { reference, report } = check;
  let indexUri: string;
  try {
    indexUri = resolveReference(reference, check.manifestUri, check.policy);
  } catch (error) {
    report({ path: check.field, message: (error as Error).message, code: 'reference' });
    return undefined;
  }
  let bytes: Buffer;
  try {
    bytes = await (await check.storeFor(indexUri)).get(indexUri, { maxBytes: MAX_SHARD_INDEX_BYTES });
  } catch (error) {
    report({ path: check.field, message: `expected a readable shard index at ${reference}, got: ${unreadableFileReason(error)}`, code: error instanceof Error && error.name === 'ObjectTooLargeError' ? 'limit' : 'reference' });
    return undefined;
  }
  const text = decodeUtf8(bytes);
  if (text === undefined) {
    report({ path: reference, message: `expected a UTF-8 JSON shard index, got an invalid byte sequence at byte offset ${invalidUtf8Offset(bytes)}`, code: 'encoding' });
    return undefined;
  }
  return { indexUri, text };
}

/** Resolves to true when the index was read and its counts added (problems may still have been reported). */
export async function checkShardSplit(check: ShardSplitCheck): Promise<boolean> {
  const { reference, report } = check;
  const read = await readIndexText(check);
  if (!read) return false;
  const { indexUri, text } = read;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const located = findJsonSyntaxError(text);
    report({
      path: reference,
      message: `expected a JSON shard index, got invalid JSON${located ? `: ${located.message}` : ''}`,
      ...(located ? { line: located.line, column: located.column } : {}),
      code: 'syntax',
    });
    return false;
  }
  const parsed = ShardIndex.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    for (const problem of problemsFromIssues(parsed.error.issues, { schema: ShardIndex, input: value, pathPrefix: `${reference}:` })) {
      report({ ...problem, code: 'shard-index' });
    }
    return false;
  }
  const index = parsed.data;
  for (const issue of shardIndexIssues(index, check.classCount)) {
    report({ path: `${reference}:${formatJsonPath(issue.path)}`, message: issue.message, code: issue.kind === 'label' ? 'label' : 'shard-index' });
  }
  for (const shard of index.shards) {
    for (const [key, count] of Object.entries(shard.classCounts)) {
      const label = Number(key);
      if (label < check.classCount) check.counts[label] = (check.counts[label] ?? 0) + count;
    }
  }
  // Every shard location obeys the policy, checked without I/O; existence only with storage.
  const located: { uri: string; raw: string; path: string }[] = [];
  index.shards.forEach((shard, position) => {
    const path = `${reference}:${formatJsonPath(['shards', position, 'uri'])}`;
    try {
      located.push({ uri: resolveReference(shard.uri, indexUri, check.policy), raw: shard.uri, path });
    } catch (error) {
      report({ path, message: (error as Error).message, code: 'reference' });
    }
  });
  if (check.checkExistence) await checkShardsExist(check, located);
  return true;
}

/** Reports every shard of the index that does not exist. */
async function checkShardsExist(check: ShardSplitCheck, shards: readonly { uri: string; raw: string; path: string }[]): Promise<void> {
  // Concurrent look-ups, problems reported in the index's order: the same report on every run.
  const found = await mapConcurrently(shards, HEAD_CONCURRENCY, async ({ uri, raw, path }): Promise<ManifestProblem | undefined> => {
    try {
      if (await (await check.storeFor(uri)).exists(uri)) return undefined;
      return { path, message: `expected a tar shard at ${uri}, got no such object`, code: 'reference' };
    } catch (error) {
      return { path, message: `expected a readable tar shard at ${raw}, got: ${unreadableFileReason(error)}`, code: 'reference' };
    }
  });
  for (const problem of found) if (problem) check.report(problem);
}
