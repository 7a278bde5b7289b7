/**
 * Picks the store for a URI. The S3 store is loaded lazily so that code which only
 * ever sees local paths (the engine's tests, the laptop demo) never loads the AWS SDK.
 */
import { LocalObjectStore } from './local';
import type { ObjectStore } from './types';
import { isS3Uri } from './uri';

export * from './types';
export * from './uri';
export { LocalObjectStore } from './local';
export { limitStream, collectStream } from './bounded';

let local: ObjectStore | undefined;
let s3: Promise<ObjectStore> | undefined;

/** The store that serves `uri`. Override the S3 one with setS3Store (tests, custom clients). */
export async function storeFor(uri: string): Promise<ObjectStore> {
  if (isS3Uri(uri)) {
    s3 ??= import('./s3').then(({ S3ObjectStore }) => new S3ObjectStore());
    return s3;
  }
  local ??= new LocalObjectStore();
  return local;
}

/** Replaces the S3 store used by storeFor (for example one built with a specific client). */
export function setS3Store(store: ObjectStore | undefined): void {
  s3 = store ? Promise.resolve(store) : undefined;
}
