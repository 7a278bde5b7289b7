/**
 * Checks of a shards split from its index alone: the index's shape, each shard's class
 * counts against the class list and its item count, and (with storage) that every shard
 * exists. The per-class counts feed the "class with no training items" check.
 */
import type { ObjectStore } from '../storage';
import { findJsonSyntaxError } from './json-text';
import { formatJsonPath } from './problems';
import { resolveReference } from './references';
import type { ManifestProblem } from './schema';
import { ShardIndex } from './shard-index';
import { mapConcurrently } from './sampling';
import { problemsFromIssues } from './zod-problems';

export interface ShardSplitCheck {
  /** The split's `shards` reference as written in the manifest. */
  reference: string;
  /** JSON path of the reference (`train.shards`). */
  field: string;
  manifestUri?: string;
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

/** Resolves to true when the index was read and its counts added (problems may still have been reported). */
export async function checkShardSplit(check: ShardSplitCheck): Promise<boolean> {
  const { reference, report } = check;
  let indexUri: string;
  let text: string;
  try {
    indexUri = resolveReference(reference, check.manifestUri);
    text = await (await check.storeFor(indexUri)).getText(indexUri);
  } catch (error) {
    report({ path: check.field, message: `expected a readable shard index at ${reference}, got: ${(error as Error).message}`, code: 'reference' });
    return false;
  }
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
  index.shards.forEach((shard, shardIndex) => {
    let sum = 0;
    for (const [key, count] of Object.entries(shard.classCounts)) {
      const label = Number(key);
      sum += count;
      if (label >= check.classCount) {
        const path = `${reference}:${formatJsonPath(['shards', shardIndex, 'classCounts', key])}`;
        report({ path, message: `expected a class index in [0, ${check.classCount - 1}], got ${label}`, code: 'label' });
      } else check.counts[label] = (check.counts[label] ?? 0) + count;
    }
    if (sum !== shard.count) {
      const path = `${reference}:${formatJsonPath(['shards', shardIndex, 'count'])}`;
      report({ path, message: `expected the shard's count to equal the sum of its classCounts (${sum}), got ${shard.count}`, code: 'shard-index' });
    }
  });
  if (check.checkExistence) await checkShardsExist(check, index, indexUri);
  return true;
}

/** Reports every shard of the index that does not exist. */
async function checkShardsExist(check: ShardSplitCheck, index: ShardIndex, indexUri: string): Promise<void> {
  const shards = index.shards.map((shard, position) => ({ shard, position }));
  await mapConcurrently(shards, HEAD_CONCURRENCY, async ({ shard, position }) => {
    const path = `${check.reference}:${formatJsonPath(['shards', position, 'uri'])}`;
    try {
      const uri = resolveReference(shard.uri, indexUri);
      if (!(await (await check.storeFor(uri)).exists(uri))) {
        check.report({ path, message: `expected a tar shard at ${uri}, got no such object`, code: 'reference' });
      }
    } catch (error) {
      check.report({ path, message: `expected a readable tar shard at ${shard.uri}, got: ${(error as Error).message}`, code: 'reference' });
    }
  });
}
