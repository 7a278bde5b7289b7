/**
 * The images an inference manifest names, in one deterministic order that validation counts
 * and every array child slices the same way: a folder or prefix in key order (image files
 * only), a list file in line order, or the shards of an index in index order (their count
 * from the index, their keys read at job time). Reads are bounded like every manifest input.
 */
import { storeFor, type ObjectStore } from '../storage';
import { ITEM_FILE_LIMITS, ManifestFileLimitError, readBoundedLines } from './lines';
import { imagePathProblem, imagesRootUri, imageUri, resolveReference, type ReferencePolicy } from './references';
import { IMAGE_EXTENSIONS, type ManifestProblem, type PredictImages } from './schema';

/** Most objects a folder form may list: past it, a list file or shards scale better (and the listing would not fit a Lambda). */
export const MAX_FOLDER_IMAGES = 2_000_000;

export interface PredictImagesContext {
  manifestUri?: string;
  policy?: ReferencePolicy;
  /** Store for every location; default storeFor(uri). */
  store?: ObjectStore;
  /** Stop reading a list file past this time (Date.now() ms), reporting the line reached. */
  deadline?: number;
}

/** One image to label: `key` is its path under the folder/root (or its shard member key), `uri` where to read it. */
export interface PredictImage {
  key: string;
  uri: string;
}

export type PredictImagesListing =
  | { kind: 'listed'; images: PredictImage[] }
  /** Shards: counted from the index; the loader reads the samples (src/data/shards). */
  | { kind: 'shards'; indexUri: string; count: number };

const EXTENSIONS: ReadonlySet<string> = new Set(IMAGE_EXTENSIONS);

function hasImageExtension(key: string): boolean {
  const dot = key.lastIndexOf('.');
  return dot >= 0 && EXTENSIONS.has(key.slice(dot + 1).toLowerCase());
}

const storeOf = async (uri: string, ctx: PredictImagesContext): Promise<ObjectStore> => ctx.store ?? (await storeFor(uri));

/** Every image of a folder or prefix, in key order; refuses more than MAX_FOLDER_IMAGES. */
async function folderImages(folder: string, ctx: PredictImagesContext, problems: ManifestProblem[]): Promise<PredictImage[]> {
  const root = imagesRootUri(folder, ctx.manifestUri, ctx.policy);
  const objects = await (await storeOf(root, ctx)).list(root);
  const images = objects.filter((object) => hasImageExtension(object.uri)).map((object) => ({ key: object.uri.slice(root.length), uri: object.uri }));
  if (images.length > MAX_FOLDER_IMAGES) {
    problems.push({ path: 'images.folder', message: `expected at most ${MAX_FOLDER_IMAGES.toLocaleString('en-US')} images under a folder, got ${images.length.toLocaleString('en-US')}; give a list file or shards instead`, code: 'limit' });
    return [];
  }
  return images;
}

/** The listed paths of a list file, each checked like an item path; problems name the line. */
async function listImages(list: string, rootReference: string, ctx: PredictImagesContext, problems: ManifestProblem[], problemLimit: number): Promise<PredictImage[]> {
  const listUri = resolveReference(list, ctx.manifestUri, ctx.policy);
  const root = imagesRootUri(rootReference, ctx.manifestUri, ctx.policy);
  const images: PredictImage[] = [];
  const report = (problem: ManifestProblem): void => {
    if (problems.length < problemLimit) problems.push(problem);
  };
  try {
    const stream = await (await storeOf(listUri, ctx)).getStream(listUri, undefined, { maxBytes: ITEM_FILE_LIMITS.maxBytes });
    for await (const read of readBoundedLines(stream, listUri, ctx.deadline === undefined ? ITEM_FILE_LIMITS : { ...ITEM_FILE_LIMITS, deadline: ctx.deadline })) {
      if ('invalidUtf8At' in read) {
        report({ path: `${list}:${read.line}`, line: read.line, message: `expected UTF-8 text, got an invalid byte sequence at byte offset ${read.invalidUtf8At} of the file`, code: 'encoding' });
        continue;
      }
      const text = (read.line === 1 ? read.text.replace(/^\uFEFF/, '') : read.text).trim();
      if (text.length === 0) continue;
      const issue = imagePathProblem(text);
      if (issue) {
        report({ path: `${list}:${read.line}`, line: read.line, message: issue, code: 'image-path' });
        continue;
      }
      images.push({ key: text, uri: imageUri(root, text) });
    }
  } catch (error) {
    if (error instanceof ManifestFileLimitError) report({ path: `${list}:${error.line}`, line: error.line, message: error.message, code: 'limit' });
    else throw error;
  }
  return images;
}

/**
 * The images of `images` with the problems found listing them. Throws only what a store
 * throws unexpectedly; references outside the policy come back as problems.
 */
export async function listPredictImages(
  images: PredictImages,
  ctx: PredictImagesContext,
  options: { problemLimit?: number } = {},
): Promise<{ listing?: PredictImagesListing; problems: ManifestProblem[] }> {
  const problems: ManifestProblem[] = [];
  const problemLimit = options.problemLimit ?? 100;
  try {
    if ('folder' in images) return { listing: { kind: 'listed', images: await folderImages(images.folder, ctx, problems) }, problems };
    if ('list' in images) return { listing: { kind: 'listed', images: await listImages(images.list, images.root, ctx, problems, problemLimit) }, problems };
    const indexUri = resolveReference(images.shards, ctx.manifestUri, ctx.policy);
    const { readShardIndex } = await import('../data/shards/format');
    const index = await readShardIndex(indexUri, await storeOf(indexUri, ctx));
    return { listing: { kind: 'shards', indexUri, count: index.shards.reduce((sum, shard) => sum + shard.count, 0) }, problems };
  } catch (error) {
    const field = 'folder' in images ? 'images.folder' : 'list' in images ? 'images.list' : 'images.shards';
    problems.push({ path: field, message: error instanceof Error ? error.message : String(error), code: 'reference' });
    return { problems };
  }
}

/** The [start, end) item range of array child `slice` of `count` images in slices of `sliceSize`. */
export function sliceRange(count: number, sliceSize: number, slice: number): { start: number; end: number } {
  const start = Math.min(count, slice * sliceSize);
  return { start, end: Math.min(count, start + sliceSize) };
}

/** How many array children label `count` images in slices of `sliceSize` (at least one). */
export function sliceCount(count: number, sliceSize: number): number {
  return Math.max(1, Math.ceil(count / sliceSize));
}
