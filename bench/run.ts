/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line,
 * e.g. `npm run bench -- clip data`) and prints one table per file. Each bench module
 * exports `run(): Promise<BenchReport>`; results are also written to `bench/results/<name>.json`
 * so BENCHMARKS.md can quote them with the machine they came from.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchReport } from './types';

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = (await readdir(here)).filter((f) => f.endsWith('.bench.ts')).sort();
  const selected = only.length > 0 ? files.filter((f) => only.some((o) => f.startsWith(o))) : files;
  if (selected.length === 0) throw new Error(`no bench matches ${only.join(', ')}; available: ${files.join(', ')}`);
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  console.log(`machine: ${machine}`);
  await mkdir(path.join(here, 'results'), { recursive: true });
  for (const file of selected) {
    const name = file.replace(/\.bench\.ts$/, '');
    console.log(`\n== ${name} ==`);
    const module = (await import(pathToFileURL(path.join(here, file)).href)) as { run: () => Promise<BenchReport> };
    const report = await module.run();
    console.table(report.rows);
    for (const line of report.notes ?? []) console.log(line);
    await writeFile(path.join(here, 'results', `${name}.json`), JSON.stringify({ machine, date: new Date().toISOString(), ...report }, null, 2));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
