/**
 * `sage prepare <dataset>`: the ingestion commands. Each writes WebDataset shards and a
 * manifest.json (relative references) into --out, ready for `sage run` or an upload.
 * Inputs that do not exist are refused (exit 2) before any work; every stage prints its
 * counts and an ETA on stderr; a weights folder the manifest names but that is not there is
 * warned about, since validation will refuse the manifest until it is.
 */
import { Option, type Command } from 'commander';
import { stat } from 'node:fs/promises';
import type { Manifest } from '../../manifest/schema';
import { isS3Uri } from '../../storage';
import { CliInputError } from '../exit-codes';
import { parseLocation, parseNonNegativeInteger, parseNumber, parsePositiveInteger } from '../options';
import type { CliOutput } from '../output';

interface OutputFlags {
  out: string;
  name?: string;
  weights?: string;
  seed?: number;
  maxShardBytes?: number;
  concurrency?: number;
  json?: boolean;
}

type PreparedSummary = { manifestUri: string; manifest: Manifest; trainCounts: number[]; testCount: number };

/** What `sage prepare ... --json` prints on stdout. */
export interface PrepareJson {
  manifestUri: string;
  name: string;
  classes: number;
  trainCounts: number[];
  trainImages: number;
  testImages: number;
  /** Images left out because they do not decode (prepare folder). */
  skipped: { uri: string; reason: string }[];
  /** The weights folder the manifest names, resolved; `exists` false when nothing is there yet. */
  weights: { uri: string; exists: boolean | null };
}

function addOutputFlags(command: Command): Command {
  return command
    .requiredOption('-o, --out <dir>', 'output folder or s3:// prefix (shards, indexes, manifest.json)', parseLocation)
    .option('--name <name>', 'manifest name (keys results and summaries)')
    .option('--weights <location>', 'CLIP weights folder written into the manifest (relative to it, absolute, or s3://); default weights/clip-vit-base-patch16')
    .option('--seed <n>', 'seed of every random choice', parseNonNegativeInteger)
    .option('--max-shard-bytes <n>', 'largest shard in bytes (default 256 MiB)', parsePositiveInteger)
    .option('--concurrency <n>', 'images read at once while checking and copying', parsePositiveInteger)
    .option('--json', 'print the result as JSON on stdout (docs/cli.md)');
}

/**
 * One line per stage and at most one every 2 s within it: `train: 512/1,000 images (51%),
 * 12.3 s, ETA 11.8 s`. The ETA is the stage's own rate so far, once it has one.
 */
export function stageProgress(output: CliOutput, now: () => number = Date.now): (stage: string, done: number, total: number, unit?: string) => void {
  const started = new Map<string, number>();
  let lastLine = Number.NEGATIVE_INFINITY;
  return (stage, done, total, unit = 'images') => {
    const time = now();
    if (!started.has(stage)) started.set(stage, time);
    if (time - lastLine < 2000 && done < total) return;
    lastLine = time;
    const elapsed = (time - started.get(stage)!) / 1000;
    const count = `${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${unit}`;
    const percent = total > 0 ? ` (${Math.floor((done / total) * 100)}%)` : '';
    // A rate needs items done and time passed: a stage's first line (at 0 s) has no ETA.
    const eta = done > 0 && elapsed > 0 && done < total ? `, ETA ${formatSeconds((elapsed / done) * (total - done))}` : '';
    output.err(`${stage}: ${count}${percent}, ${formatSeconds(elapsed)}${eta}`);
  };
}

/** `0.42 s`, `12.3 s`, `4m05s`, `2h03m`. */
function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

function outputOptions(flags: OutputFlags, progress: ReturnType<typeof stageProgress>) {
  return {
    out: flags.out,
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.weights ? { weights: flags.weights } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    ...(flags.maxShardBytes ? { maxShardBytes: flags.maxShardBytes } : {}),
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
    onProgress: (p: { split: string; written: number; total: number }) => progress(`copying ${p.split}`, p.written, p.total),
  };
}

/**
 * Refuses an input flag whose location is not there (exit 2), naming the flag. Local paths
 * are checked for the right kind; an s3:// file is checked with a HEAD; an s3:// folder is a
 * prefix, which the command itself finds empty.
 */
export async function requireInput(flag: string, uri: string, kind: 'file' | 'folder'): Promise<void> {
  if (isS3Uri(uri)) {
    if (kind === 'folder') return;
    const { storeFor } = await import('../../storage');
    if (!(await (await storeFor(uri)).exists(uri))) throw new CliInputError(`${flag}: no file at ${uri}`);
    return;
  }
  const info = await stat(uri).catch(() => undefined);
  if (!info) throw new CliInputError(`${flag}: no ${kind} at ${uri}`);
  if (kind === 'file' && !info.isFile()) throw new CliInputError(`${flag}: expected a file, got a folder at ${uri}`);
  if (kind === 'folder' && !info.isDirectory()) throw new CliInputError(`${flag}: expected a folder, got a file at ${uri}`);
}

/** Whether the manifest's weights folder has a config.json yet; null when that cannot be asked (no S3 access). */
async function weightsPresent(weightsUri: string): Promise<boolean | null> {
  const { joinUri, storeFor } = await import('../../storage');
  try {
    return await (await storeFor(weightsUri)).exists(joinUri(weightsUri, 'config.json'));
  } catch {
    return null;
  }
}

async function printPrepared(prepared: PreparedSummary, flags: OutputFlags, output: CliOutput, skipped: PrepareJson['skipped'] = []): Promise<void> {
  const { resolveReference } = await import('../../manifest/references');
  const weightsUri = resolveReference(prepared.manifest.weights, prepared.manifestUri);
  const exists = await weightsPresent(weightsUri);
  if (exists === false) {
    const given = flags.weights ? `--weights ${flags.weights}` : `the default weights ${prepared.manifest.weights} (no --weights given)`;
    output.err(`warning: ${given}: no CLIP folder at ${weightsUri} (no config.json); validation and training refuse the manifest until the weights are there`);
  }
  let train = 0;
  for (const n of prepared.trainCounts) train += n;
  const counts = prepared.trainCounts;
  if (flags.json) {
    const document: PrepareJson = {
      manifestUri: prepared.manifestUri,
      name: prepared.manifest.name,
      classes: counts.length,
      trainCounts: counts,
      trainImages: train,
      testImages: prepared.testCount,
      skipped,
      weights: { uri: weightsUri, exists },
    };
    output.out(JSON.stringify(document, null, 2));
    return;
  }
  output.out(`prepared ${counts.length} classes: ${train} training images (largest class ${Math.max(...counts)}, smallest ${Math.min(...counts)}), ${prepared.testCount} test images`);
  if (skipped.length > 0) output.out(`skipped ${skipped.length} image(s) that do not decode (listed above)`);
  output.out(`manifest: ${prepared.manifestUri}`);
}

export function registerPrepare(program: Command, output: CliOutput): void {
  const prepare = program.command('prepare').description('turn a dataset into shards plus a manifest (one sub-command per dataset kind)');

  addOutputFlags(
    prepare
      .command('cifar100-lt')
      .description('CIFAR-100-LT from the official archive: class i keeps floor(500·β^(-i/99)) training images; the full test set')
      .requiredOption('--archive <file>', 'cifar-100-python.tar.gz or cifar-100-binary.tar.gz', parseLocation)
      .option('--imbalance <beta>', 'imbalance ratio β (the paper uses 100, 50, 10)', parseNumber, 100),
  ).action(async (flags: OutputFlags & { archive: string; imbalance: number }) => {
    await requireInput('--archive', flags.archive, 'file');
    const { prepareCifar100Lt } = await import('../../data');
    const progress = stageProgress(output);
    await printPrepared(await prepareCifar100Lt({ ...outputOptions(flags, progress), archive: flags.archive, imbalanceRatio: flags.imbalance }), flags, output);
  });

  for (const dataset of ['imagenet-lt', 'places-lt'] as const) {
    addOutputFlags(
      prepare
        .command(dataset)
        .description(`${dataset === 'imagenet-lt' ? 'ImageNet-LT' : 'Places-LT'} from its list files ("relative/path label" per line) and classnames.txt`)
        .requiredOption('--image-root <dir>', 'folder the list paths are relative to', parseLocation)
        .requiredOption('--train-list <file>', `training list (e.g. ${dataset === 'imagenet-lt' ? 'ImageNet_LT_train.txt' : 'Places_LT_train.txt'})`, parseLocation)
        .requiredOption('--test-list <file>', `test list (e.g. ${dataset === 'imagenet-lt' ? 'ImageNet_LT_test.txt' : 'Places_LT_test.txt'})`, parseLocation)
        .requiredOption('--class-names <file>', 'classnames.txt: one name per line, in label order', parseLocation),
    ).action(async (flags: OutputFlags & { imageRoot: string; trainList: string; testList: string; classNames: string }) => {
      const { imageRoot, trainList, testList, classNames } = flags;
      await requireInput('--image-root', imageRoot, 'folder');
      for (const [flag, uri] of [['--train-list', trainList], ['--test-list', testList], ['--class-names', classNames]] as const) await requireInput(flag, uri, 'file');
      const data = await import('../../data');
      const prepareList = dataset === 'imagenet-lt' ? data.prepareImageNetLt : data.preparePlacesLt;
      const progress = stageProgress(output);
      await printPrepared(await prepareList({ ...outputOptions(flags, progress), imageRoot, trainList, testList, classNames }), flags, output);
    });
  }

  addOutputFlags(
    prepare
      .command('inat2018')
      .description('iNaturalist 2018 from the competition JSON files (val2018 is the test split)')
      .requiredOption('--image-root <dir>', 'folder the JSON file_name paths are relative to', parseLocation)
      .requiredOption('--train-json <file>', 'train2018.json', parseLocation)
      .requiredOption('--val-json <file>', 'val2018.json', parseLocation)
      .option('--categories-json <file>', 'categories.json with the class names (default: the categories in train2018.json)', parseLocation),
  ).action(async (flags: OutputFlags & { imageRoot: string; trainJson: string; valJson: string; categoriesJson?: string }) => {
    const { imageRoot, trainJson, valJson, categoriesJson } = flags;
    await requireInput('--image-root', imageRoot, 'folder');
    for (const [flag, uri] of [['--train-json', trainJson], ['--val-json', valJson], ['--categories-json', categoriesJson]] as const) if (uri) await requireInput(flag, uri, 'file');
    const { prepareInat2018 } = await import('../../data');
    const progress = stageProgress(output);
    await printPrepared(await prepareInat2018({ ...outputOptions(flags, progress), imageRoot, trainJson, valJson, ...(categoriesJson ? { categoriesJson } : {}) }), flags, output);
  });

  addOutputFlags(
    prepare
      .command('folder')
      .description('a folder tree <root>/<class name>/<image>, optionally cut to a long tail; every image is decoded once and a bad one is skipped with a warning')
      .requiredOption('--root <dir>', 'the class folders', parseLocation)
      .option('--test-root <dir>', 'a test tree with the same class folders', parseLocation)
      .option('--test-per-class <n>', 'images per class held out of --root for testing (instead of --test-root)', parsePositiveInteger)
      .option('--imbalance <beta>', 'keep floor(max·β^(-i/(C-1))) training images of class i (default: keep all)', parseNumber)
      .option('--max-per-class <n>', 'head-class count of the long-tailed cut (default: the largest class)', parsePositiveInteger)
      .addOption(new Option('--on-bad-image <action>', 'an empty, truncated or non-image file: skip it with a warning, or fail (exit 2) listing them all').choices(['skip', 'fail']).default('skip')),
  ).action(async (flags: OutputFlags & { root: string; testRoot?: string; testPerClass?: number; imbalance?: number; maxPerClass?: number; onBadImage: 'skip' | 'fail' }) => {
    if (!flags.testRoot && flags.testPerClass === undefined) throw new CliInputError('give --test-root or --test-per-class: the folder dataset needs a test split');
    await requireInput('--root', flags.root, 'folder');
    if (flags.testRoot) await requireInput('--test-root', flags.testRoot, 'folder');
    const { prepareImageFolder } = await import('../../data');
    const progress = stageProgress(output);
    const skipped: PrepareJson['skipped'] = [];
    const prepared = await prepareImageFolder({
      ...outputOptions(flags, progress),
      root: flags.root,
      ...(flags.testRoot ? { testRoot: flags.testRoot } : {}),
      ...(flags.testPerClass !== undefined ? { testPerClass: flags.testPerClass } : {}),
      ...(flags.imbalance !== undefined ? { imbalanceRatio: flags.imbalance } : {}),
      ...(flags.maxPerClass !== undefined ? { maxPerClass: flags.maxPerClass } : {}),
      onBadImage: flags.onBadImage,
      onSkip: (bad) => {
        skipped.push(bad);
        output.err(`warning: skipped ${bad.uri}: ${bad.reason}`);
      },
      onStage: ({ stage, done, total }) => {
        if (stage === 'listing') output.err(`listing: ${total.toLocaleString('en-US')} images found`);
        else progress('checking', done, total);
      },
    });
    await printPrepared(prepared, flags, output, skipped);
  });

  registerPrepareProcedural(prepare, output);
}

function registerPrepareProcedural(prepare: Command, output: CliOutput): void {
  prepare
    .command('procedural')
    .description('a long-tailed dataset of coloured shapes drawn on the fly (PNG + JSONL + manifest, mini-CLIP weights): for trying the pipeline without downloads')
    .requiredOption('-o, --out <dir>', 'output folder or s3:// prefix', parseLocation)
    .option('--classes <n>', 'classes (at most 36)', parsePositiveInteger, 24)
    .option('--imbalance <beta>', 'largest / smallest training class', parseNumber, 20)
    .option('--max-per-class <n>', 'training images of the largest class', parsePositiveInteger, 200)
    .option('--test-per-class <n>', 'test images of every class', parsePositiveInteger, 20)
    .option('--image-size <px>', "image side (default: the mini-CLIP's input size)", parsePositiveInteger)
    .option('--seed <n>', 'seed', parseNonNegativeInteger, 0)
    .option(
      '--domain <name>',
      "how the images look: 'tungsten' (a warm colour cast the mini-CLIP never saw, like a real dataset's gap from CLIP's pretraining images) or 'pretraining' (the mini-CLIP's own images, where zero-shot is hard to beat)",
      'tungsten',
    )
    .option('--name <name>', 'manifest name')
    .option('--weights <location>', 'CLIP weights folder (default: the mini-CLIP fixture)')
    .option('--json', 'print the result as JSON on stdout (docs/cli.md)')
    .action(async (flags: { out: string; classes: number; imbalance: number; maxPerClass: number; testPerClass: number; imageSize?: number; seed: number; domain: string; name?: string; weights?: string; json?: boolean }) => {
      const { generateProceduralDataset, ProceduralDatasetOptionsError } = await import('../../procedural');
      const { DOMAIN_NAMES, isDomainName } = await import('../../procedural');
      if (!isDomainName(flags.domain)) throw new CliInputError(`--domain must be one of ${DOMAIN_NAMES.join(', ')}, got '${flags.domain}'`);
      const domain = flags.domain;
      const progress = stageProgress(output);
      const generated = await generateProceduralDataset({
        outDir: flags.out,
        classes: flags.classes,
        imbalanceRatio: flags.imbalance,
        maxPerClass: flags.maxPerClass,
        testPerClass: flags.testPerClass,
        ...(flags.imageSize !== undefined ? { imageSize: flags.imageSize } : {}),
        seed: flags.seed,
        domain,
        ...(flags.name ? { name: flags.name } : {}),
        ...(flags.weights ? { weights: flags.weights } : {}),
        onProgress: (p) => progress(`drawing ${p.split}`, p.written, p.total),
      }).catch((error: unknown) => {
        throw error instanceof ProceduralDatasetOptionsError ? new CliInputError(error.message) : error;
      });
      let testCount = 0;
      for (const n of generated.testCounts) testCount += n;
      await printPrepared({ manifestUri: generated.manifestUri, manifest: generated.manifest, trainCounts: generated.trainCounts, testCount }, { out: flags.out, ...(flags.weights ? { weights: flags.weights } : {}), ...(flags.json ? { json: true } : {}) }, output);
    });
}
