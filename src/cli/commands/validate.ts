/** `sage validate <manifest>`: the same checks as the upload Lambda, with every problem listed. */
import type { Command } from 'commander';
import { CliInputError } from '../exit-codes';
import { parseLocation } from '../options';
import type { CliOutput } from '../output';

interface ValidateFlags {
  checkStorage: boolean;
  json?: boolean;
}

export function registerValidate(program: Command, output: CliOutput): void {
  program
    .command('validate')
    .description('check a manifest as the pipeline would (schema, classes, referenced files, images, settings); exit 2 listing every problem')
    .argument('<manifest>', 'manifest JSON (path or s3:// URI)', parseLocation)
    .option('--no-check-storage', 'skip reading the CLIP weights folder and opening a sample of the images (schema, lists and counts are still checked; no estimate, which needs the weights\' config.json)')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (manifestUri: string, flags: ValidateFlags) => {
      const { validateUpload, readManifestBytes, ManifestValidationError, classNames, sweepSize, resolveRunSettings, PREDICT_DEFAULTS, sliceCount } = await import('../../manifest');
      const { storeFor } = await import('../../storage');
      const { methodLabel } = await import('../../contracts/settings');
      const store = await storeFor(manifestUri);
      if (!(await store.exists(manifestUri))) throw new CliInputError(`no manifest at ${manifestUri}`);
      const checked = await validateUpload(await readManifestBytes(store, manifestUri), { manifestUri, checkStorage: flags.checkStorage });
      if (checked.kind === 'predict') {
        // An inference manifest: the adapter, the weights and the images it labels, in slices.
        if (!checked.result.ok) {
          if (flags.json) output.out(JSON.stringify({ ok: false, manifestUri, problems: checked.result.problems }, null, 2));
          throw new ManifestValidationError(checked.result.problems, manifestUri);
        }
        const predict = checked.result;
        const slices = sliceCount(predict.imageCount, predict.manifest.sliceSize ?? PREDICT_DEFAULTS.sliceSize);
        if (flags.json) {
          output.out(JSON.stringify({ ok: true, kind: 'predict', manifestUri, name: predict.manifest.name, adapter: predict.adapterUri, classes: predict.adapter.classNames.length, images: predict.imageCount, slices }, null, 2));
          return;
        }
        output.out(`valid inference manifest: ${manifestUri}`);
        output.out(`  name     ${predict.manifest.name}`);
        output.out(`  adapter  ${predict.adapterUri} (${predict.adapter.settings.method}, ${predict.adapter.classNames.length} classes)`);
        output.out(`  images   ${predict.imageCount} in ${slices} slice(s)`);
        return;
      }
      const result = checked.result;
      if (!result.ok) {
        if (flags.json) output.out(JSON.stringify({ ok: false, manifestUri, problems: result.problems }, null, 2));
        throw new ManifestValidationError(result.problems, manifestUri);
      }
      const { manifest, counts, warnings } = result;
      const runs = Array.from({ length: sweepSize(manifest) }, (_, i) => methodLabel(resolveRunSettings(manifest, i)));
      const total = (values: readonly number[] | undefined): string => (values ? String(values.reduce((s, v) => s + v, 0)) : '?');
      // What the runs will cost on the GPUs the stack may launch (when the weights' config was read).
      const { estimateManifest, estimateProblems } = await import('../../pipeline');
      const { describeSweepEstimate, storedEstimate } = await import('../../estimate');
      const { cliBudget } = await import('../budget');
      const budget = result.clip ? await cliBudget() : undefined;
      const estimate = budget && result.clip ? estimateManifest(manifest, result.clip, counts, budget.budget) : undefined;
      if (estimate && budget && !estimate.fits) {
        // The upload Lambda refuses a run the budget cannot hold (time or GPU memory): so does validate, with its problems and the figures.
        const problems = estimateProblems(manifest.sweep !== undefined, estimate);
        if (flags.json) output.out(JSON.stringify({ ok: false, manifestUri, problems, budgetFrom: budget.from, estimate: storedEstimate(estimate) }, null, 2));
        else {
          output.out(`estimate (${budget.from})`);
          for (const line of describeSweepEstimate(estimate)) output.out(`  ${line}`);
          for (const warning of warnings) output.err(`warning: ${warning.path || '(manifest)'}: ${warning.message}`);
        }
        throw new ManifestValidationError(problems, manifestUri);
      }
      // Said, not left out silently: the estimate counts FLOPs from the weights' config.json.
      const noEstimate = estimate ? undefined : !flags.checkStorage ? "--no-check-storage reads no CLIP config.json, which the estimate's FLOPs per image come from" : !result.clip ? 'the CLIP weights folder could not be read' : 'the training and test image counts are not all known';
      if (flags.json) {
        output.out(JSON.stringify({ ok: true, manifestUri, name: manifest.name, classes: manifest.classes.length, counts, runs, warnings, ...(estimate ? { estimate: storedEstimate(estimate) } : { noEstimate }) }, null, 2));
        return;
      }
      output.out(`valid: ${manifestUri}`);
      output.out(`  name     ${manifest.name}`);
      output.out(`  classes  ${classNames(manifest).length}`);
      output.out(`  images   ${total(counts.train)} train, ${total(counts.test)} test`);
      output.out(`  runs     ${runs.length} (${runs.join(', ')})`);
      if (estimate && budget) {
        output.out(`  estimate (${budget.from})`);
        for (const line of describeSweepEstimate(estimate)) output.out(`    ${line}`);
      } else output.out(`  estimate none: ${noEstimate}`);
      for (const warning of warnings) output.err(`warning: ${warning.path || '(manifest)'}: ${warning.message}`);
    });
}
