/**
 * `sage prepare <dataset>`: the ingestion commands. Each writes WebDataset shards and a
 * manifest.json (relative references) into --out, ready for `sage run` or an upload.
 */
import type { Command } from 'commander';
import { parseLocation, parseNonNegativeInteger, parseNumber, parsePositiveInteger } from '../options';
import type { CliOutput } from '../output';

interface OutputFlags {
  out: string;
  name?: string;
  weights?: string;
  seed?: number;
  maxShardBytes?: number;
  concurrency?: number;
}

type PreparedSummary = { manifestUri: string; trainCounts: number[]; testCount: number };

function addOutputFlags(command: Command): Command {
  return command
    .requiredOption('-o, --out <dir>', 'output folder or s3:// prefix (shards, indexes, manifest.json)', parseLocation)
    .option('--name <name>', 'manifest name (keys results and summaries)')
    .option('--weights <location>', 'CLIP weights folder written into the manifest (relative to it, absolute, or s3://); default weights/clip-vit-base-patch16')
    .option('--seed <n>', 'seed of every random choice', parseNonNegativeInteger)
    .option('--max-shard-bytes <n>', 'largest shard in bytes (default 256 MiB)', parsePositiveInteger)
    .option('--concurrency <n>', 'images read at once while copying', parsePositiveInteger);
}

function outputOptions(flags: OutputFlags, output: CliOutput) {
  let lastLine = 0;
  return {
    out: flags.out,
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.weights ? { weights: flags.weights } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    ...(flags.maxShardBytes ? { maxShardBytes: flags.maxShardBytes } : {}),
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
    onProgress: (p: { split: string; written: number; total: number }) => {
      const now = Date.now();
      if (now - lastLine < 2000 && p.written < p.total) return;
      lastLine = now;
      output.err(`${p.split}: ${p.written}/${p.total} images`);
    },
  };
}

function printPrepared(prepared: PreparedSummary, output: CliOutput): void {
  let train = 0;
  for (const n of prepared.trainCounts) train += n;
  const counts = prepared.trainCounts;
  output.out(`prepared ${counts.length} classes: ${train} training images (largest class ${Math.max(...counts)}, smallest ${Math.min(...counts)}), ${prepared.testCount} test images`);
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
    const { prepareCifar100Lt } = await import('../../data');
    printPrepared(await prepareCifar100Lt({ ...outputOptions(flags, output), archive: flags.archive, imbalanceRatio: flags.imbalance }), output);
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
      const data = await import('../../data');
      const prepareList = dataset === 'imagenet-lt' ? data.prepareImageNetLt : data.preparePlacesLt;
      const { imageRoot, trainList, testList, classNames } = flags;
      printPrepared(await prepareList({ ...outputOptions(flags, output), imageRoot, trainList, testList, classNames }), output);
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
    const { prepareInat2018 } = await import('../../data');
    const { imageRoot, trainJson, valJson, categoriesJson } = flags;
    printPrepared(await prepareInat2018({ ...outputOptions(flags, output), imageRoot, trainJson, valJson, ...(categoriesJson ? { categoriesJson } : {}) }), output);
  });

  addOutputFlags(
    prepare
      .command('folder')
      .description('a folder tree <root>/<class name>/<image>, optionally cut to a long tail')
      .requiredOption('--root <dir>', 'the class folders', parseLocation)
      .option('--test-root <dir>', 'a test tree with the same class folders', parseLocation)
      .option('--test-per-class <n>', 'images per class held out of --root for testing (instead of --test-root)', parsePositiveInteger)
      .option('--imbalance <beta>', 'keep floor(max·β^(-i/(C-1))) training images of class i (default: keep all)', parseNumber)
      .option('--max-per-class <n>', 'head-class count of the long-tailed cut (default: the largest class)', parsePositiveInteger),
  ).action(async (flags: OutputFlags & { root: string; testRoot?: string; testPerClass?: number; imbalance?: number; maxPerClass?: number }) => {
    const { prepareImageFolder } = await import('../../data');
    const { CliInputError } = await import('../exit-codes');
    if (!flags.testRoot && flags.testPerClass === undefined) throw new CliInputError('give --test-root or --test-per-class: the folder dataset needs a test split');
    printPrepared(
      await prepareImageFolder({
        ...outputOptions(flags, output),
        root: flags.root,
        ...(flags.testRoot ? { testRoot: flags.testRoot } : {}),
        ...(flags.testPerClass !== undefined ? { testPerClass: flags.testPerClass } : {}),
        ...(flags.imbalance !== undefined ? { imbalanceRatio: flags.imbalance } : {}),
        ...(flags.maxPerClass !== undefined ? { maxPerClass: flags.maxPerClass } : {}),
      }),
      output,
    );
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
    .action(async (flags: { out: string; classes: number; imbalance: number; maxPerClass: number; testPerClass: number; imageSize?: number; seed: number; domain: string; name?: string; weights?: string }) => {
      const { generateProceduralDataset, ProceduralDatasetOptionsError } = await import('../../procedural/dataset');
      const { DOMAIN_NAMES, isDomainName } = await import('../../procedural/domain');
      const { CliInputError } = await import('../exit-codes');
      if (!isDomainName(flags.domain)) throw new CliInputError(`--domain must be one of ${DOMAIN_NAMES.join(', ')}, got '${flags.domain}'`);
      const domain = flags.domain;
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
      }).catch((error: unknown) => {
        throw error instanceof ProceduralDatasetOptionsError ? new CliInputError(error.message) : error;
      });
      let testCount = 0;
      for (const n of generated.testCounts) testCount += n;
      printPrepared({ manifestUri: generated.manifestUri, trainCounts: generated.trainCounts, testCount }, output);
    });
}
