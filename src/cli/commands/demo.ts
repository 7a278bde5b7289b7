/**
 * `sage demo` (`npm start`): the main job on the built-in data. A procedural long-tailed
 * dataset and the mini-CLIP go through the same pipeline as on AWS (validation handler,
 * trainer for zero-shot, LIFT and Sage, aggregation handler, report) with local folders as
 * the buckets. Ends with the accuracy table and the report's path (with --json, `sage run
 * --json`'s document plus the seconds the demo took).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliInputError } from '../exit-codes';
import type { LocalRunFlags, LocalRunJson } from '../local-run';
import { locationOption, parsePositiveInteger } from '../options';
import type { CliOutput } from '../output';
import { addLocalRunFlags } from './run';

interface DemoFlags extends Omit<LocalRunFlags, 'buckets'> {
  out: string;
  weights?: string;
  epochs?: number;
  classes?: number;
  maxPerClass?: number;
}

/** What `sage demo --json` prints on stdout: `sage run --json`'s document and the demo's wall time. */
export type DemoJson = LocalRunJson & { seconds: number };

/** The demo owns its folder: it is wiped only when this marker shows the demo made it. */
const MARKER = '.sage-demo';

async function freshDemoFolder(out: string): Promise<void> {
  if (existsSync(out)) {
    if (!existsSync(path.join(out, MARKER))) throw new CliInputError(`${out} exists and was not made by sage demo; choose another --out`);
    await rm(out, { recursive: true, force: true });
  }
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, MARKER), 'made by sage demo; deleted and rebuilt by the next sage demo\n');
}

export function registerDemo(program: Command, output: CliOutput): void {
  const command = program
    .command('demo')
    .description('the whole pipeline on built-in data (procedural long-tailed shapes, the mini-CLIP): zero-shot, LIFT and Sage, then the table and the report; what npm start runs')
    .addOption(locationOption('-o, --out <dir>', 'demo folder, rebuilt on every run: dataset/ and the local buckets in buckets/', 'out/demo'))
    .option('--epochs <n>', 'training epochs of LIFT and Sage', parsePositiveInteger)
    .option('--classes <n>', 'classes of the procedural dataset (at most 36)', parsePositiveInteger)
    .option('--max-per-class <n>', 'training images of the largest class', parsePositiveInteger)
    .addOption(locationOption('--weights <dir>', 'CLIP weights folder (default: the mini-CLIP fixture in fixtures/mini-clip)'))
    .option('--json', "print sage run --json's document plus seconds as JSON on stdout instead of the table");
  // LIFT and Sage train side by side where there are two cores. Each job's default replicas (data-parallel
  // threads) count only its share of the cores: on two cores one each, which packs them perfectly (measured
  // faster than one job after the other with two replicas each: mini-CLIP steps are small, so splitting them
  // gains less than side by side does); on more cores each job adds replicas.
  addLocalRunFlags(command, { parallel: Math.min(2, os.cpus().length) }).action(async (flags: DemoFlags) => {
    if (flags.out.startsWith('s3://')) throw new CliInputError('the demo writes to a local folder; give a path for --out');
    const started = performance.now();
    const { DEMO_SIZE, writeDemoDataset } = await import('../demo-dataset');
    const size = {
      ...DEMO_SIZE,
      ...(flags.epochs ? { epochs: flags.epochs } : {}),
      ...(flags.classes ? { classes: flags.classes } : {}),
      ...(flags.maxPerClass ? { maxPerClass: flags.maxPerClass } : {}),
    };
    await freshDemoFolder(flags.out);
    output.err(`sage demo: ${size.classes} procedural classes, ${size.maxPerClass} to ${Math.floor(size.maxPerClass / size.imbalanceRatio)} training images each, ${size.epochs} epochs, in ${flags.out}`);
    const dataset = await writeDemoDataset(path.join(flags.out, 'dataset'), size, flags.weights);
    const buckets = path.join(flags.out, 'buckets');
    const { runManifestLocally } = await import('../local-run');
    const seconds = (): number => (performance.now() - started) / 1000;
    if (!flags.json) {
      await runManifestLocally(dataset.manifestUri, { ...flags, buckets }, output);
      output.out(`demo finished in ${seconds().toFixed(0)} s`);
      return;
    }
    // The run prints its one document (finished, or rejected / not-submitted before it throws); it is
    // held back here so the demo's time joins it, and printed whether the run ends well or not.
    const documents: string[] = [];
    try {
      await runManifestLocally(dataset.manifestUri, { ...flags, buckets }, { out: (text) => void documents.push(text), err: (text) => output.err(text) });
    } finally {
      if (documents.length === 1) {
        const document: DemoJson = { ...(JSON.parse(documents[0]!) as LocalRunJson), seconds: Math.round(seconds() * 10) / 10 };
        output.out(JSON.stringify(document, null, 2));
      } else for (const text of documents) output.out(text);
    }
  });
}
