/**
 * SDK clients and stores, made once per container on first use (not at import, so a
 * handler module loads in tests without AWS settings).
 */
import { S3ObjectStore } from '../../src/storage/s3';
import type { ObjectStore } from '../../src/storage';

let s3Store: ObjectStore | undefined;

export function sharedS3Store(): ObjectStore {
  s3Store ??= new S3ObjectStore();
  return s3Store;
}
