/** URI helpers shared by every store: `s3://bucket/key` or a local path. */
import path from 'node:path';
import { StorageError } from '../common/errors';

export interface S3Location {
  bucket: string;
  key: string;
}

export function isS3Uri(uri: string): boolean {
  return uri.startsWith('s3://');
}

export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new StorageError(`not an S3 URI: "${uri}" (expected s3://bucket/key)`, { kind: 'bad-input' });
  return { bucket: match[1]!, key: match[2]! };
}

export function formatS3Uri(location: S3Location): string {
  return `s3://${location.bucket}/${location.key}`;
}

/** Joins URI segments with single slashes; local paths are resolved with node:path. */
export function joinUri(base: string, ...parts: string[]): string {
  if (isS3Uri(base)) {
    const segments = [base.replace(/\/+$/, ''), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].filter((s) => s.length > 0);
    return segments.join('/');
  }
  return path.join(base, ...parts);
}

/** Parent "directory" of a URI. */
export function dirnameUri(uri: string): string {
  if (isS3Uri(uri)) return uri.replace(/\/[^/]*$/, '');
  return path.dirname(uri);
}

/** Last path segment of a URI. */
export function basenameUri(uri: string): string {
  return isS3Uri(uri) ? uri.replace(/\/+$/, '').split('/').pop()! : path.basename(uri);
}
