/**
 * Locations named by a manifest. Relative references resolve against the manifest's own
 * location, so a dataset folder (manifest + lists + images) can be moved or uploaded to
 * a bucket as a whole. Item paths are stricter: they must stay inside the image root.
 */
import path from 'node:path';
import { dirnameUri, formatS3Uri, isS3Uri, parseS3Uri } from '../storage';
import { IMAGE_EXTENSIONS } from './schema';

/** A reference the manifest cannot use (another scheme, or `..` above a bucket's root). */
export class ManifestReferenceError extends Error {
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super(`cannot resolve "${reference}": ${reason}`);
    this.name = 'ManifestReferenceError';
  }
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * The absolute location of `reference`: s3:// and absolute paths are kept; a relative
 * path resolves against the folder of `manifestUri` (the working directory without one).
 */
export function resolveReference(reference: string, manifestUri?: string): string {
  if (isS3Uri(reference)) {
    if (!/^s3:\/\/[^/]+/.test(reference)) throw new ManifestReferenceError(reference, 'expected s3://bucket/key, the bucket name is missing');
    return reference;
  }
  if (SCHEME.test(reference)) {
    throw new ManifestReferenceError(reference, `expected s3://bucket/key, an absolute path or a relative path, got the scheme "${reference.split(':')[0]}"`);
  }
  if (path.isAbsolute(reference)) return path.normalize(reference);
  if (manifestUri && isS3Uri(manifestUri)) {
    const { bucket, key } = parseS3Uri(dirnameUri(manifestUri));
    const joined = path.posix.normalize(path.posix.join(key, reference));
    if (joined === '..' || joined.startsWith('../')) throw new ManifestReferenceError(reference, `it climbs above the root of bucket "${bucket}"`);
    return formatS3Uri({ bucket, key: joined === '.' ? '' : joined });
  }
  return path.resolve(manifestUri ? path.dirname(manifestUri) : process.cwd(), reference);
}

/** The folder item paths are relative to, ending in a separator. */
export function imagesRootUri(images: string, manifestUri?: string): string {
  const root = resolveReference(images, manifestUri);
  if (isS3Uri(root)) return root.endsWith('/') ? root : `${root}/`;
  return root.endsWith(path.sep) ? root : `${root}${path.sep}`;
}

/** The location of one image: `root` from imagesRootUri, `itemPath` already checked by imagePathProblem. */
export function imageUri(root: string, itemPath: string): string {
  return isS3Uri(root) ? `${root}${itemPath}` : path.join(root, itemPath);
}

const IMAGE_EXTENSION_SET: ReadonlySet<string> = new Set(IMAGE_EXTENSIONS);

/**
 * Why an item path is unusable, or undefined when it is fine. Paths must be relative,
 * normalised (no `.`, `..` or empty segments) and end in an image extension, so that no
 * manifest can make the trainer read outside its image root.
 */
export function imagePathProblem(itemPath: string): string | undefined {
  if (SCHEME.test(itemPath)) return `expected a path relative to images, got the URI ${JSON.stringify(itemPath)} (images from another bucket or location are not allowed)`;
  const first = itemPath.charCodeAt(0);
  if (first === 47 || first === 92 || /^[A-Za-z]:/.test(itemPath)) return `expected a path relative to images, got the absolute path ${JSON.stringify(itemPath)}`;
  // One pass over the characters: segment boundaries and control characters.
  let segmentStart = 0;
  let sawDotSegment = false;
  for (let i = 0; i <= itemPath.length; i++) {
    const c = i < itemPath.length ? itemPath.charCodeAt(i) : 47;
    if (c < 32) return `expected a path without control characters, got ${JSON.stringify(itemPath)}`;
    if (c !== 47 && c !== 92) continue;
    const length = i - segmentStart;
    if (length === 2 && itemPath.charCodeAt(segmentStart) === 46 && itemPath.charCodeAt(segmentStart + 1) === 46) {
      return `expected a path inside images, got ${JSON.stringify(itemPath)} which escapes it with ".."`;
    }
    if (length === 0 || (length === 1 && itemPath.charCodeAt(segmentStart) === 46)) sawDotSegment = true;
    segmentStart = i + 1;
  }
  if (sawDotSegment) return `expected a normalised relative path (no "." or empty segments), got ${JSON.stringify(itemPath)}`;
  const dot = itemPath.lastIndexOf('.');
  const extension = dot >= 0 ? itemPath.slice(dot + 1).toLowerCase() : '';
  if (!IMAGE_EXTENSION_SET.has(extension)) {
    return `expected an image file (${IMAGE_EXTENSIONS.map((e) => `.${e}`).join(', ')}), got ${JSON.stringify(itemPath)}`;
  }
  return undefined;
}
