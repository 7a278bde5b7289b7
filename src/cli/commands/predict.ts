/**
 * `sage predict`: label images with a trained adapter. Takes image files, folders (or s3://
 * prefixes), globs, list files and inference manifests; loads the model once and streams the
 * images through the data loader's decode workers (streamPredictions, the function the
 * inference job runs, so both write the same lines); prints progress on stderr; writes JSONL
 * or CSV to stdout or --out; skips unreadable images with a warning (--strict stops on them).
 */
import type { Command } from 'commander';
import { CliInputError } from '../exit-codes';
import { parseLocation, parsePositiveInteger } from '../options';
import type { CliOutput } from '../output';

interface PredictFlags {
  adapter?: string;
  weights?: string;
  topK?: number;
  tte?: boolean;
  format: 'jsonl' | 'csv' | 'json';
  out?: string;
  strict?: boolean;
  workers?: number;
  root?: string;
}

const GLOB = /[*?[]/;
const LIST_FILE = /\.(txt|lst|list)$/i;

/** A glob as a regular expression over `/`-separated paths: `**` any depth, `*` and `?` within a segment. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** The listing the arguments name (image files, folders, globs, list files), in argument order then key order. */
async function listingOfArguments(args: readonly string[], flags: PredictFlags): Promise<import('../../manifest').PredictImage[]> {
  const { listPredictImages, LOCAL_POLICY } = await import('../../manifest');
  const { storeFor, isS3Uri, dirnameUri } = await import('../../storage');
  const { stat } = await import('node:fs/promises');
  const path = await import('node:path');
  const images: import('../../manifest').PredictImage[] = [];
  const take = async (listing: Awaited<ReturnType<typeof listPredictImages>>, what: string): Promise<void> => {
    if (listing.problems.length > 0) throw new CliInputError(`${what}: ${listing.problems.slice(0, 5).map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    if (listing.listing?.kind === 'listed') images.push(...listing.listing.images);
  };
  for (const arg of args) {
    if (GLOB.test(arg) && !isS3Uri(arg)) {
      // The fixed part of the pattern is the folder to list.
      const segments = arg.split('/');
      const fixed = segments.slice(0, segments.findIndex((segment) => GLOB.test(segment))).join('/') || '.';
      const matcher = globToRegExp(path.relative(fixed, arg).split(path.sep).join('/'));
      const listed = await listPredictImages({ folder: fixed }, { policy: LOCAL_POLICY });
      const matching = listed.listing?.kind === 'listed' ? listed.listing.images.filter((image) => matcher.test(image.key)) : [];
      if (matching.length === 0) throw new CliInputError(`no image matches ${arg}`);
      images.push(...matching.map((image) => ({ key: path.join(fixed, image.key), uri: image.uri })));
      continue;
    }
    const isFolder = isS3Uri(arg) ? arg.endsWith('/') : await stat(arg).then((info) => info.isDirectory(), () => false);
    if (isFolder) {
      await take(await listPredictImages({ folder: arg }, { policy: LOCAL_POLICY }), arg);
      continue;
    }
    if (LIST_FILE.test(arg)) {
      await take(await listPredictImages({ list: arg, root: flags.root ?? dirnameUri(arg) }, { policy: LOCAL_POLICY }), arg);
      continue;
    }
    if (!(await (await storeFor(arg)).exists(arg))) throw new CliInputError(`no image at ${arg}`);
    images.push({ key: arg, uri: arg });
  }
  return images;
}

export function registerPredict(program: Command, output: CliOutput): void {
  program
    .command('predict')
    .description('label images with a trained adapter: image files, folders or s3:// prefixes, globs, list files, or an inference manifest; JSONL (default) or CSV')
    .argument('<inputs...>', 'images, folders, globs ("photos/**/*.jpg"), list files (.txt, one path per line), or one inference manifest (.json, "kind": "predict")', (value: string, previous: string[] = []) => [...previous, value.includes('*') ? value : parseLocation(value)])
    .option('--adapter <dir>', "a run's results folder holding adapter.json and adapter.safetensors (an inference manifest names its own)", parseLocation)
    .option('--weights <dir>', 'CLIP weights folder (default: the one the adapter was trained on, from adapter.json)', parseLocation)
    .option('-k, --top-k <k>', 'classes per image (default 5, or the manifest’s topK)', parsePositiveInteger)
    .option('--tte', 'five-crop test-time ensemble')
    .option('--format <format>', 'jsonl: one object per image; csv: key, class_1, score_1, ...; json: one array', 'jsonl')
    .option('-o, --out <file>', 'write the predictions here instead of stdout', parseLocation)
    .option('--root <dir>', 'folder the paths of a list file are relative to (default: the list file’s folder)', parseLocation)
    .option('--strict', 'stop at the first unreadable image (exit 2) instead of skipping it with a warning')
    .option('--workers <n>', 'image decoding threads (default: CPU cores)', parsePositiveInteger)
    .action(async (inputs: string[], flags: PredictFlags) => {
      if (!['jsonl', 'csv', 'json'].includes(flags.format)) throw new CliInputError(`--format must be jsonl, csv or json, got ${JSON.stringify(flags.format)}`);
      const { initBackend, loadClip } = await import('../../clip');
      const { loadAdapter, readAdapterHeader, EngineCheckpointError } = await import('../../engine');
      const { streamPredictions } = await import('../../trainer');
      const { predictionCsvHeader, predictionCsvLine, predictionJsonLine } = await import('../../contracts/predictions');
      const { storeFor } = await import('../../storage');
      const { jobKind } = await import('../../trainer');
      const log = (line: string): void => output.err(line);

      // An inference manifest brings its adapter, weights, images and defaults.
      let images: import('../../manifest').PredictImagesListing;
      let adapterUri = flags.adapter;
      let weights = flags.weights;
      let topK = flags.topK;
      let tte = flags.tte;
      if (inputs.length === 1 && inputs[0]!.endsWith('.json') && (await jobKind(inputs[0]!).catch(() => 'train')) === 'predict') {
        const { readManifestBytes, validateUpload, ManifestValidationError, resolveReference } = await import('../../manifest');
        const manifestUri = inputs[0]!;
        const checked = await validateUpload(await readManifestBytes(await storeFor(manifestUri), manifestUri), { manifestUri, checkStorage: false });
        if (checked.kind !== 'predict' || !checked.result.ok) throw new ManifestValidationError(checked.result.ok ? [] : checked.result.problems, manifestUri);
        images = checked.result.images;
        adapterUri ??= checked.result.adapterUri;
        weights ??= resolveReference(checked.result.manifest.weights, manifestUri);
        topK ??= checked.result.manifest.topK;
        tte ??= checked.result.manifest.tte;
      } else {
        images = { kind: 'listed', images: await listingOfArguments(inputs, flags) };
      }
      if (!adapterUri) throw new CliInputError('missing --adapter (a run’s results folder with adapter.json), or give an inference manifest');
      await initBackend({ log });
      const adapter = { store: await storeFor(adapterUri), uri: adapterUri.replace(/\/adapter\.json$/, '') };
      const header = await readAdapterHeader(adapter).catch((error: unknown) => {
        throw error instanceof EngineCheckpointError ? new CliInputError(error.message) : error;
      });
      const clip = await loadClip(weights ?? header.clip.source, { log });
      const model = await loadAdapter(adapter, { clip });
      const k = topK ?? 5;
      const lines: string[] = [];
      const json: unknown[] = [];
      if (flags.format === 'csv') lines.push(predictionCsvHeader(k).join(','));
      const total = images.kind === 'listed' ? images.images.length : images.count;
      let lastProgress = 0;
      try {
        const result = await streamPredictions({
          model,
          images,
          topK: k,
          tte: tte ?? false,
          ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
          ...(flags.strict ? { strict: true } : {}),
          log,
          onRecord: (record) => {
            if (flags.format === 'csv') lines.push(predictionCsvLine(record, k));
            else if (flags.format === 'json') json.push(JSON.parse(predictionJsonLine(record)));
            else lines.push(predictionJsonLine(record));
          },
          onSkip: (report) => output.err(`warning: skipped ${report.key}: ${report.reason}: ${report.detail}`),
          onProgress: (done) => {
            if (done === total || Date.now() - lastProgress > 2000) {
              lastProgress = Date.now();
              output.err(`labelled ${done} of ${total} images`);
            }
          },
        });
        const text = flags.format === 'json' ? `${JSON.stringify(json, null, 2)}\n` : lines.length > 0 ? `${lines.join('\n')}\n` : '';
        if (flags.out) {
          await (await storeFor(flags.out)).put(flags.out, text);
          output.err(`wrote ${flags.out}: ${result.images} images, ${result.skipped.length} skipped, ${(result.images / Math.max(result.seconds, 1e-9)).toFixed(1)} images/s`);
        } else output.out(text.replace(/\n$/, ''));
      } catch (error) {
        const { LoaderBadImageError } = await import('../../data/errors');
        if (error instanceof LoaderBadImageError) throw new CliInputError(error.message);
        throw error;
      } finally {
        model.dispose();
        clip.dispose();
      }
    });
}
