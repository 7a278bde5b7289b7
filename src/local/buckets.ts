/** The three buckets of the one-machine pipeline: folders under one root. */
import path from 'node:path';
import type { PipelineLocations } from '../pipeline';
import { isS3Uri, joinUri } from '../storage';

/** `./out/local-buckets`, relative to the working directory. */
export const DEFAULT_BUCKETS_ROOT = path.join('out', 'local-buckets');

/** `<root>/data`, `<root>/results`, `<root>/artifacts`: absolute paths, or s3:// prefixes under an S3 root. */
export function localBuckets(root: string): PipelineLocations {
  const base = isS3Uri(root) ? root : path.resolve(root);
  return { data: joinUri(base, 'data'), results: joinUri(base, 'results'), artifacts: joinUri(base, 'artifacts') };
}
