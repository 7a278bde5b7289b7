/**
 * Puts a manifest into the local data bucket as an upload would (`manifests/<name>.json`).
 * A manifest's relative references resolve against its own folder, which the copy leaves,
 * so they are rewritten to absolute locations first. A settings layer from the command line
 * (`sage run --epochs 2`, `--config`) is folded into the copy's sweep entries (or its
 * `training`), so the staged manifest says what ran, and the run record, the report's
 * Settings column and results.csv show it; nothing else changes.
 */
import { manifestKey, uploadNameOf } from '../contracts/layout';
import type { SettingsOverrides } from '../contracts/settings';
import { resolveReference } from '../manifest/references';
import { joinUri, storeFor } from '../storage';

export interface StagedManifest {
  /** Key in the data bucket: `manifests/<name>.json`. */
  key: string;
  uri: string;
  etag: string;
}

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Every field of a manifest that names a location, as [path, value] pairs (`train.jsonl`, `weights`...). */
export function manifestReferences(manifest: Json): [string, string][] {
  const out: [string, string][] = [];
  for (const field of ['images', 'weights', 'adapter']) if (typeof manifest[field] === 'string') out.push([field, manifest[field]]);
  for (const split of ['train', 'test', 'val']) {
    const source = manifest[split];
    if (!isObject(source)) continue;
    for (const field of ['jsonl', 'list', 'shards']) if (typeof source[field] === 'string') out.push([`${split}.${field}`, source[field]]);
  }
  // An inference manifest's images: { folder } | { list, root } | { shards }.
  const images = manifest.images;
  if (isObject(images)) for (const field of ['folder', 'list', 'root', 'shards']) if (typeof images[field] === 'string') out.push([`images.${field}`, images[field]]);
  return out;
}

/** The manifest with `images`, `weights` and the splits' `jsonl` / `list` / `shards` made absolute. */
export function withAbsoluteReferences(manifest: Json, sourceUri: string): Json {
  const absolute = (value: unknown): unknown => (typeof value === 'string' && value.length > 0 ? resolveReference(value, sourceUri) : value);
  const out: Json = { ...manifest };
  for (const field of ['images', 'weights', 'adapter']) if (typeof out[field] === 'string') out[field] = absolute(out[field]);
  if (isObject(out.images)) {
    const images: Json = { ...out.images };
    for (const field of ['folder', 'list', 'root', 'shards']) if (field in images) images[field] = absolute(images[field]);
    out.images = images;
  }
  for (const split of ['train', 'test', 'val']) {
    const source = out[split];
    if (!isObject(source)) continue;
    const copy: Json = { ...source };
    for (const field of ['jsonl', 'list', 'shards']) if (field in copy) copy[field] = absolute(copy[field]);
    out[split] = copy;
  }
  return out;
}

/**
 * `upper` over `lower` as one layer, with the result resolveSettings gives the two layers in
 * order: later fields win, components merge, but a method in `upper` resets the components
 * (resolveSettings sets them from the method), so only `upper`'s own refinements stay.
 */
export function mergeSettingsLayers(lower: Json, upper: SettingsOverrides): Json {
  const { components: lowerComponents, ...lowerRest } = lower;
  const { components: upperComponents, ...upperRest } = upper;
  const components =
    upper.method !== undefined ? upperComponents : lowerComponents !== undefined || upperComponents !== undefined ? { ...(isObject(lowerComponents) ? lowerComponents : {}), ...upperComponents } : undefined;
  return { ...lowerRest, ...upperRest, ...(components !== undefined ? { components } : {}) };
}

/**
 * The manifest with a last settings layer folded in: into every sweep entry when it has a
 * sweep (the layer then sits over each entry, as the trainer's own last layer would), else
 * into `training`. The fields the layer does not name keep their places.
 */
export function withSettingsLayer(manifest: Json, layer: SettingsOverrides | undefined): Json {
  if (!layer || Object.keys(layer).length === 0) return manifest;
  if (Array.isArray(manifest.sweep) && manifest.sweep.length > 0) {
    return { ...manifest, sweep: manifest.sweep.map((entry: unknown) => mergeSettingsLayers(isObject(entry) ? entry : {}, layer)) };
  }
  return { ...manifest, training: mergeSettingsLayers(isObject(manifest.training) ? manifest.training : {}, layer) };
}

/** `name` when the manifest has a usable one, else the file's base name. */

export interface StageOptions {
  /** A last settings layer, folded into the staged copy (withSettingsLayer). */
  settings?: SettingsOverrides;
}

/** The manifest text as JSON (a leading BOM allowed), or undefined where it does not parse: the validator will say why, and the file name still gives the upload its key. */
export function parseLooseJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch {
    return undefined;
  }
}

/** Copies the manifest at `sourceUri` into `<dataRoot>/manifests/`; unparsable text is copied as is, for the validator to report. */
export async function stageManifest(sourceUri: string, dataRoot: string, options: StageOptions = {}): Promise<StagedManifest> {
  const text = await (await storeFor(sourceUri)).getText(sourceUri);
  const parsed = parseLooseJson(text);
  const key = manifestKey(uploadNameOf(parsed, sourceUri));
  const uri = joinUri(dataRoot, key);
  const body = isObject(parsed) ? `${JSON.stringify(withSettingsLayer(withAbsoluteReferences(parsed, sourceUri), options.settings), null, 2)}\n` : text;
  const store = await storeFor(uri);
  const etag = await store.put(uri, body, { contentType: 'application/json' });
  return { key, uri, etag };
}
