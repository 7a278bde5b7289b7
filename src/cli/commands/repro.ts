/**
 * `sage repro TABLE --dataset MANIFEST`: a sweep manifest whose entries are the rows of one
 * of the paper's tables (src/repro), over the dataset's Table 8 preset. `sage run` or
 * `sage submit` of it runs the table; its report sets the paper's figures beside ours.
 */
import { Option, type Command } from 'commander';
import { PRESETS, type SettingsOverrides } from '../../contracts/settings';
import type { StoredEstimate, SweepEstimate } from '../../estimate';
import type { PaperDataset } from '../../repro/datasets';
import type { IdentifiedDataset } from '../../repro/identify';
import type { PaperMetric } from '../../repro/paper';
import type { ReproTable } from '../../repro/tables';
import { CliInputError } from '../exit-codes';
import { collectSetting, locationOption, parseLocation, parseNonNegativeInteger, parsePositiveInteger, toSettingsOverrides } from '../options';
import type { CliOutput } from '../output';

interface ReproFlags {
  list?: boolean;
  dataset?: string;
  tableDataset?: string;
  out?: string;
  tag?: string;
  epochs?: number;
  batchSize?: number;
  microBatchSize?: number;
  seed?: number;
  set?: Record<string, unknown>;
  json?: boolean;
}

/** A row of a table as `sage repro --json` and `--list --json` give it: one sweep entry. */
export interface ReproJsonRow {
  /** The paper's row label (ours for a row the paper's table has not). */
  label: string;
  /** Whether the paper prints figures for the row. */
  inPaper: boolean;
  /** The sweep entry: the settings that make the row, over the preset and the changes. */
  overrides: SettingsOverrides;
  note?: string;
}

/** What `sage repro TABLE --json` prints on stdout. */
export interface ReproJson {
  /** Where the manifest was written. */
  manifest: string;
  /** Its name: the summary's, which the report recognises the reproduction by. */
  name: string;
  /** The manifest's `repro` marker: table id, the paper's dataset, toy. */
  table: string;
  source: string;
  title: string;
  dataset: PaperDataset;
  /** How the dataset was found: --table-dataset (flag), the manifest's preset, name or classes, or the table's first (toy default). */
  datasetFrom: IdentifiedDataset['source'];
  toy: boolean;
  /** Why the run is a toy (not the paper's data or CLIP); empty otherwise. */
  toyReasons: string[];
  /** In sweep order. */
  rows: ReproJsonRow[];
  /** The changes to the paper's set-up given on the command line, for every row. */
  changes: SettingsOverrides;
  /** The prepared dataset's images per split (the lists' counts). */
  images: { train: number; test: number };
  /** The sweep's size (src/repro/estimate.ts sweepWork): trainingImages is Σ epochs × training images over trained runs. */
  sweep: { runs: number; trainedRuns: number; trainingImages: number; testCrops: number };
  /** The GPU estimate in summary.json's stored form; null when the CLIP config could not be read. */
  estimate: StoredEstimate | null;
  /** Where the estimate's budget came from (./cdk.json or the defaults); absent without an estimate. */
  budgetFrom?: string;
}

/** A table as `sage repro --list --json` gives it. */
export interface ReproListJsonTable {
  id: string;
  source: string;
  title: string;
  datasets: { id: PaperDataset; title: string }[];
  /** The metrics the paper prints for it (none for a sensitivity grid). */
  metrics: PaperMetric[];
  rows: ReproJsonRow[];
  /** Methods of the paper's table this pipeline does not run. */
  notOurs: string[];
  notes: string[];
}

/** What `sage repro --list --json` prints on stdout. */
export interface ReproListJson {
  tables: ReproListJsonTable[];
}

function rowJson(row: ReproTable['rows'][number]): ReproJsonRow {
  return { label: row.label, inPaper: row.inPaper, overrides: row.overrides, ...(row.note ? { note: row.note } : {}) };
}

function changesFrom(flags: ReproFlags): Record<string, unknown> {
  const raw: Record<string, unknown> = { ...flags.set };
  if (flags.epochs !== undefined) raw.epochs = flags.epochs;
  if (flags.batchSize !== undefined) raw.batchSize = flags.batchSize;
  if (flags.microBatchSize !== undefined) raw.microBatchSize = flags.microBatchSize;
  if (flags.seed !== undefined) raw.seed = flags.seed;
  return raw;
}

export function registerRepro(program: Command, output: CliOutput): void {
  program
    .command('repro')
    .description("write the sweep manifest of one of the paper's tables for a prepared dataset: one entry per row, the Table 8 preset, a report with the paper's figures beside ours")
    .argument('[table]', 'a table (1-7, 10, 11) or a sensitivity grid (alpha, gamma, mu, lambda1, lambda2, lambda3); see --list')
    .option('--list', 'print the tables, their datasets and rows, and exit')
    .option('--json', 'print the result as JSON on stdout: {manifest, table, dataset, toy, rows, sweep, estimate, ...}; with --list, {tables}')
    .option('--dataset <manifest>', 'a prepared manifest (sage prepare ...): its classes, splits and weights', parseLocation)
    .addOption(new Option('--table-dataset <dataset>', "which of the paper's datasets the rows and preset are taken from (default: found from the manifest)").choices([...PRESETS]))
    .addOption(locationOption('-o, --out <file>', 'where to write the manifest (default: beside the prepared one, named after the table)'))
    .option('--tag <tag>', 'suffix of the manifest name, to keep a second reproduction apart (letters, digits, "_", "-")')
    .option('--epochs <n>', "training epochs (the paper's: 10, iNaturalist 2018 20)", parsePositiveInteger)
    .option('--batch-size <n>', "effective batch size (the paper's: 128)", parsePositiveInteger)
    .option('--micro-batch-size <n>', 'images per forward/backward pass (gradients accumulate to the batch size; not a change of set-up)', parsePositiveInteger)
    .option('--seed <n>', 'random seed', parseNonNegativeInteger)
    .option('--set <key=value>', 'any other change to the paper set-up, repeatable (e.g. --set tte=false)', collectSetting)
    .addHelpText(
      'after',
      `
Examples:
  sage repro --list
  sage repro 5 --dataset data/cifar100-lt-r100/manifest.json      Table 5's ablations on CIFAR-100-LT β = 100
  sage repro 10 --dataset out/procedural/manifest.json --epochs 1  a toy run of Table 10 on the procedural data
  sage run data/cifar100-lt-r100/repro-t5-cifar100-lt-r100.json`,
    )
    .action(async (tableName: string | undefined, flags: ReproFlags) => {
      const { REPRO_TABLE_IDS, findReproTable } = await import('../../repro/tables');
      if (flags.list) {
        if (flags.json) {
          const { REPRO_TABLES } = await import('../../repro/tables');
          const { PAPER_DATASET_INFO } = await import('../../repro/datasets');
          const document: ReproListJson = {
            tables: REPRO_TABLES.map((t) => ({
              id: t.id,
              source: t.source,
              title: t.title,
              datasets: t.datasets.map((id) => ({ id, title: PAPER_DATASET_INFO[id].title })),
              metrics: [...t.metrics],
              rows: t.rows.map(rowJson),
              notOurs: [...t.notOurs],
              notes: [...t.notes],
            })),
          };
          output.out(JSON.stringify(document, null, 2));
          return;
        }
        const { formatReproList } = await import('../../repro/list');
        output.out(formatReproList().join('\n'));
        return;
      }
      if (tableName === undefined) throw new CliInputError(`give a table: one of ${REPRO_TABLE_IDS.join(', ')} (sage repro --list shows their rows)`);
      const table = findReproTable(tableName);
      if (!table) throw new CliInputError(`unknown table "${tableName}": expected one of ${REPRO_TABLE_IDS.join(', ')} (sage repro --list shows their rows)`);
      if (!flags.dataset) throw new CliInputError('give --dataset <manifest>: a prepared manifest (sage prepare ...)');
      if (flags.tag !== undefined) {
        const { isReproTag } = await import('../../repro/name');
        if (!isReproTag(flags.tag)) throw new CliInputError(`expected --tag of 1-40 letters, digits, "_" or "-", got "${flags.tag}"`);
      }
      await writeRepro(table, { ...flags, dataset: flags.dataset }, output);
    });
}

/** Runs `fn`; an error of class `kind` (bad input the user can fix) becomes a CliInputError (exit 2). */
function asInputError<T>(kind: new (...args: never[]) => Error, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof kind) throw new CliInputError(error.message, { cause: error });
    throw error;
  }
}

async function writeRepro(table: ReproTable, flags: ReproFlags & { dataset: string }, output: CliOutput): Promise<void> {
  const { validateManifest, ManifestValidationError, resolveReference, resolveRunSettings, sweepSize } = await import('../../manifest');
  const { storeFor, dirnameUri, joinUri } = await import('../../storage');
  const { identifyDataset, ReproDatasetError } = await import('../../repro/identify');
  const { buildReproManifest, ReproSettingsError } = await import('../../repro/manifest');
  const { checkBackbone } = await import('../../repro/backbone');
  const { describeSweep, sweepWork } = await import('../../repro/estimate');
  const { PAPER_DATASET_INFO } = await import('../../repro/datasets');
  const { formatOverrides } = await import('../../report');
  const { withAbsoluteReferences } = await import('../../local/stage-manifest');

  const changes = toSettingsOverrides(changesFrom(flags));
  const source = flags.dataset;
  const store = await storeFor(source);
  if (!(await store.exists(source))) throw new CliInputError(`no manifest at ${source}`);
  // Lists and counts are read (they identify CIFAR's β and size the sweep); images are not opened.
  const validated = await validateManifest(await store.getText(source), { manifestUri: source, checkStorage: false });
  if (!validated.ok) throw new ManifestValidationError(validated.problems, source);
  const prepared = validated.manifest;
  const sum = (values: readonly number[] | undefined): number => (values ?? []).reduce((s, v) => s + v, 0);

  const identified = asInputError(ReproDatasetError, () =>
    identifyDataset(
      table,
      { name: prepared.name, classes: prepared.classes.length, ...(prepared.training?.preset ? { preset: prepared.training.preset } : {}), ...(validated.counts.train ? { trainCounts: validated.counts.train } : {}) },
      flags.tableDataset,
    ),
  );
  const toyReasons = [...identified.toyReasons];
  const backbone = await checkBackbone(resolveReference(prepared.weights, source));
  if (backbone.kind === 'other') toyReasons.push(backbone.reason);
  if (backbone.kind === 'unreadable') output.err(`warning: could not check the CLIP weights (${backbone.reason}); taken to be ViT-B/16`);
  const toy = toyReasons.length > 0;

  const manifest = asInputError(ReproSettingsError, () => buildReproManifest(prepared, { table, dataset: identified.dataset, toy, changes, ...(flags.tag ? { tag: flags.tag } : {}) }));
  // Every row must resolve: a change such as --micro-batch-size above the batch shows here, not in the upload.
  for (let i = 0; i < sweepSize(manifest); i++) {
    try {
      resolveRunSettings(manifest, i);
    } catch (error) {
      throw new CliInputError(`row "${manifest.repro!.rows[i]}" has invalid settings with these changes: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  const out = flags.out ?? joinUri(dirnameUri(source), `${manifest.name}.json`);
  // Relative references hold beside the prepared manifest only; elsewhere they are made absolute.
  const document = dirnameUri(out) === dirnameUri(source) ? manifest : withAbsoluteReferences(manifest, source);
  const outStore = await storeFor(out);
  await outStore.put(out, `${JSON.stringify(document, null, 2)}\n`, { contentType: 'application/json' });

  const { preset: _preset, ...droppedTraining } = prepared.training ?? {};
  if (Object.keys(droppedTraining).length > 0) {
    output.err(`note: the prepared manifest's training settings (${formatOverrides(droppedTraining)}) give way to the paper's set-up; give them again (--set) to keep them`);
  }
  const images = { train: sum(validated.counts.train), test: sum(validated.counts.test) };
  const estimated = await sweepEstimate(manifest, backbone, validated.counts);
  if (flags.json) {
    const { storedEstimate } = await import('../../estimate');
    const work = sweepWork(manifest, images);
    const document: ReproJson = {
      manifest: out,
      name: manifest.name,
      table: table.id,
      source: table.source,
      title: table.title,
      dataset: identified.dataset,
      datasetFrom: identified.source,
      toy,
      toyReasons,
      rows: table.rows.map(rowJson),
      changes,
      images,
      sweep: { runs: work.runs, trainedRuns: work.trainedRuns, trainingImages: work.trainingImages, testCrops: work.testCrops },
      estimate: estimated ? storedEstimate(estimated.estimate) : null,
      ...(estimated ? { budgetFrom: estimated.from } : {}),
    };
    output.out(JSON.stringify(document, null, 2));
    return;
  }

  const title = PAPER_DATASET_INFO[identified.dataset].title;
  output.out(`wrote ${out}`);
  output.out(`  ${table.source}: ${table.title}; rows and preset of ${title} (${identified.dataset}, from ${identified.source === 'toy default' ? "the table's first dataset" : identified.source})`);
  if (toy) output.out(`  toy: ${toyReasons.join('; ')}: the report will show the paper's figures for reference only`);
  output.out(`  name ${manifest.name}: the report recognises the reproduction by it, so keep it`);
  for (const [i, label] of manifest.repro!.rows.entries()) output.out(`  #${i} ${label}: ${formatOverrides(manifest.sweep![i]!, { keepMethod: true })}`);
  const changed = formatOverrides(changes);
  if (changed) output.out(`  changed from the paper's set-up for every row: ${changed}`);
  const { describeSweepEstimate } = await import('../../estimate');
  const estimateLines = estimated ? [`(budget from ${estimated.from})`, ...describeSweepEstimate(estimated.estimate)] : undefined;
  for (const line of await describeSweep(manifest, images, estimateLines)) output.out(`  ${line}`);
  output.out(`next: sage run ${out}   (this machine)   or   sage submit ${out}   (AWS)`);
}

/** The sweep's GPU estimate (src/estimate), with the budget of ./cdk.json or the defaults; undefined without the CLIP config. */
async function sweepEstimate(
  manifest: import('../../manifest').Manifest,
  backbone: import('../../repro/backbone').BackboneCheck,
  counts: { train?: number[]; test?: number[] },
): Promise<{ estimate: SweepEstimate; from: string } | undefined> {
  if (!('config' in backbone)) return undefined;
  const { estimateManifest } = await import('../../pipeline');
  const { cliBudget } = await import('../budget');
  const { budget, from } = await cliBudget();
  const estimate = estimateManifest(manifest, backbone.config, counts, budget);
  return estimate ? { estimate, from } : undefined;
}
