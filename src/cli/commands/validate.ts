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
    .option('--no-check-storage', 'skip opening a sample of the images (schema, lists and counts are still checked)')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (manifestUri: string, flags: ValidateFlags) => {
      const { validateManifest, readManifestBytes, ManifestValidationError, classNames, sweepSize, resolveRunSettings } = await import('../../manifest');
      const { storeFor } = await import('../../storage');
      const { methodLabel } = await import('../../contracts/settings');
      const store = await storeFor(manifestUri);
      if (!(await store.exists(manifestUri))) throw new CliInputError(`no manifest at ${manifestUri}`);
      const result = await validateManifest(await readManifestBytes(store, manifestUri), { manifestUri, checkStorage: flags.checkStorage });
      if (!result.ok) {
        if (flags.json) output.out(JSON.stringify({ ok: false, manifestUri, problems: result.problems }, null, 2));
        throw new ManifestValidationError(result.problems, manifestUri);
      }
      const { manifest, counts, warnings } = result;
      const runs = Array.from({ length: sweepSize(manifest) }, (_, i) => methodLabel(resolveRunSettings(manifest, i)));
      const total = (values: readonly number[] | undefined): string => (values ? String(values.reduce((s, v) => s + v, 0)) : '?');
      // What the runs will cost on the GPUs the stack may launch (when the weights' config was read).
      const { estimateManifest } = await import('../../pipeline/run-planner');
      const { describeSweepEstimate, storedEstimate } = await import('../../estimate');
      const { cliBudget } = await import('../budget');
      const budget = result.clip ? await cliBudget() : undefined;
      const estimate = budget && result.clip ? estimateManifest(manifest, result.clip, counts, budget.budget) : undefined;
      if (flags.json) {
        output.out(JSON.stringify({ ok: true, manifestUri, name: manifest.name, classes: manifest.classes.length, counts, runs, warnings, ...(estimate ? { estimate: storedEstimate(estimate) } : {}) }, null, 2));
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
      }
      for (const warning of warnings) output.err(`warning: ${warning.path || '(manifest)'}: ${warning.message}`);
    });
}
