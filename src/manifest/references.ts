/**
 * Locations named by a manifest. Relative references resolve against the manifest's own
 * location, so a dataset folder (manifest + lists + images) can be moved or uploaded to
 * a bucket as a whole. Item paths are stricter: they must stay inside the image root.
 *
 * A manifest read from S3 was written by someone else: its references may only name S3
 * objects, and (where the caller says so: the upload Lambda) only under the pipeline's own
 * roots. A local or absolute path there would make the reader open a file of its own disk
 * (`/proc/self/environ` holds a Lambda's credentials) and quote it into a report the
 * uploader can read, so it is refused before any store is asked.
 */
import path from 'node:path';
import { dirnameUri, formatS3Uri, isS3Uri, parseS3Uri } from '../storage';
import { IMAGE_EXTENSIONS } from './schema';
import { ManifestError } from '../common/errors';

/** A reference the manifest cannot use (another scheme, a path outside the allowed roots, `..` above a bucket's root). */
export class ManifestReferenceError extends ManifestError {
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super(`cannot resolve ${JSON.stringify(reference.length > 200 ? `${reference.slice(0, 200)}...` : reference)}: ${reason}`);
    this.name = 'ManifestReferenceError';
  }
}

/**
 * Where a manifest's references may point.
 * - `s3Only`: refuse local paths (relative ones resolve against an S3 manifest's folder, so they stay in S3).
 * - `roots`: when given, every reference must lie under one of these `s3://bucket/prefix/` roots.
 */
export interface ReferencePolicy {
  s3Only: boolean;
  roots?: readonly string[];
}

/** Local use (a manifest on disk): any path or URI the reader can open. */
export const LOCAL_POLICY: ReferencePolicy = { s3Only: false };

/**
 * The policy for a manifest at `manifestUri`: S3 only when it came from S3, with `roots`
 * (when given) as the only allowed locations. Roots are normalised to end in `/`.
 */
export function referencePolicyFor(manifestUri: string | undefined, roots?: readonly string[]): ReferencePolicy {
  const normalised = roots?.map((root) => (root.endsWith('/') ? root : `${root}/`));
  if (normalised?.some((root) => !isS3Uri(root))) throw new Error(`reference roots must be s3:// URIs, got ${JSON.stringify(roots)}`);
  if (manifestUri !== undefined && isS3Uri(manifestUri)) return normalised ? { s3Only: true, roots: normalised } : { s3Only: true };
  return normalised ? { s3Only: true, roots: normalised } : LOCAL_POLICY;
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 32) return true;
  return false;
}

/** Refuses keys with `.`, `..` or empty segments: S3 keeps them literally, but a reader of the URI may not. */
function checkS3Key(reference: string, key: string): void {
  const segments = key.split('/');
  const bad = segments.findIndex((segment, i) => segment === '..' || segment === '.' || (segment === '' && i < segments.length - 1));
  if (bad >= 0) throw new ManifestReferenceError(reference, 'expected a normalised s3:// key (no ".", ".." or empty segments)');
  if (hasControlCharacter(key)) throw new ManifestReferenceError(reference, 'expected an s3:// key without control characters');
}

function checkPolicy(reference: string, resolved: string, policy: ReferencePolicy): string {
  if (!isS3Uri(resolved)) {
    if (policy.s3Only) {
      throw new ManifestReferenceError(
        reference,
        'a manifest read from S3 may name only S3 objects: use an s3:// URI in the data bucket or a path relative to the manifest (local and absolute paths are refused)',
      );
    }
    return resolved;
  }
  if (policy.roots && !policy.roots.some((root) => resolved === root.slice(0, -1) || resolved.startsWith(root))) {
    throw new ManifestReferenceError(reference, `expected a location under ${policy.roots.join(' or ')}; the pipeline reads nothing else`);
  }
  return resolved;
}

/**
 * The absolute location of `reference`: s3:// and absolute paths are kept; a relative
 * path resolves against the folder of `manifestUri` (the working directory without one).
 * The result is checked against `policy` (default: the policy of `manifestUri`).
 */
export function resolveReference(reference: string, manifestUri?: string, policy: ReferencePolicy = referencePolicyFor(manifestUri)): string {
  if (isS3Uri(reference)) {
    if (!/^s3:\/\/[^/]+/.test(reference)) throw new ManifestReferenceError(reference, 'expected s3://bucket/key, the bucket name is missing');
    checkS3Key(reference, parseS3Uri(reference).key);
    return checkPolicy(reference, reference, policy);
  }
  if (SCHEME.test(reference)) {
    throw new ManifestReferenceError(reference, `expected s3://bucket/key, an absolute path or a relative path, got the scheme "${reference.split(':')[0]}"`);
  }
  if (hasControlCharacter(reference)) throw new ManifestReferenceError(reference, 'expected a path without control characters');
  if (path.isAbsolute(reference) || /^[A-Za-z]:[\\/]/.test(reference)) return checkPolicy(reference, path.normalize(reference), policy);
  if (manifestUri && isS3Uri(manifestUri)) {
    const { bucket, key } = parseS3Uri(dirnameUri(manifestUri));
    const joined = path.posix.normalize(path.posix.join(key, reference.replace(/\\/g, '/')));
    if (joined === '..' || joined.startsWith('../')) throw new ManifestReferenceError(reference, `it climbs above the root of bucket "${bucket}"`);
    return checkPolicy(reference, formatS3Uri({ bucket, key: joined === '.' ? '' : joined }), policy);
  }
  return checkPolicy(reference, path.resolve(manifestUri ? path.dirname(manifestUri) : process.cwd(), reference), policy);
}

/** The folder item paths are relative to, ending in a separator. */
export function imagesRootUri(images: string, manifestUri?: string, policy?: ReferencePolicy): string {
  const root = resolveReference(images, manifestUri, policy);
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
