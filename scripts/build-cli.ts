/**
 * Builds the `sage` command into dist/cli/ so it starts without compiling TypeScript
 * (`npm run build`; `npm ci` runs it as the package's prepare step; bin/sage.mjs runs it when
 * the build is missing or older than its sources). esbuild bundles src/cli/main.ts with code
 * splitting, so each command's heavy modules stay in chunks loaded only when it runs; every
 * npm package stays external (one tfjs instance, sharp's native code, the AWS SDK as installed).
 *
 *   dist/cli/<build id>/main.mjs, chunk-*.mjs   the bundle (src/local/job-runner.ts starts main.mjs for trainers)
 *   dist/cli/<build id>/<module>.js, <entry>.mjs   each worker thread's module and entry, where its launcher looks for them:
 *                                                beside the chunk it is in (WORKERS below; test/cli/cli-built.test.ts finds them all)
 *   dist/cli/current.json                        { id, builtAt, inputs }: which build is current and what it was built from
 *
 * Each build gets its own folder and current.json is replaced by a rename, so a process still
 * running an older build keeps finding its chunks; builds a day older than the current one go.
 */
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PACKAGE_ROOT = path.resolve(here, '..');
export const CLI_DIST = 'dist/cli';
export const CURRENT_FILE = 'current.json';
/**
 * Worker threads start from a plain .mjs entry that imports their module (`./<module>.js` from
 * the bundle, `.ts` with tsx from the sources): the image decoder (src/data/decode/pool.ts) and
 * the training replicas (src/trainer/parallel/links.ts).
 */
export const WORKERS = [
  { dir: 'src/data/decode', entry: 'worker-entry.mjs', module: 'worker.ts' },
  { dir: 'src/trainer/parallel', entry: 'replica-entry.mjs', module: 'replica-main.ts' },
] as const;
const KEEP_OLD_BUILDS_MS = 24 * 3600 * 1000;

export interface CliBuildInfo {
  id: string;
  /** When the build started (ms since the epoch): a source modified after it makes the build stale. */
  builtAt: number;
  /** The source files in the bundle, relative to the package root. */
  inputs: string[];
}

/** Builds the CLI bundle under `<root>/dist/cli/<id>/` and makes it the current one. */
export async function buildCli(root: string = PACKAGE_ROOT): Promise<CliBuildInfo> {
  const builtAt = Date.now();
  const id = `${builtAt.toString(36)}-${process.pid}`;
  const distRoot = path.join(root, CLI_DIST);
  const outdir = path.join(distRoot, id);
  await mkdir(outdir, { recursive: true });
  const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: 'linked', logLevel: 'warning', metafile: true } as const;
  const main = await build({
    ...common,
    entryPoints: { main: path.join(root, 'src', 'cli', 'main.ts') },
    outdir,
    splitting: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
  });
  const inputs = new Set(Object.keys(main.metafile.inputs));
  for (const worker of WORKERS) {
    const dir = path.join(root, worker.dir);
    // `.js` is ESM here: the package's own package.json says "type": "module".
    const built = await build({ ...common, entryPoints: [path.join(dir, worker.module)], outfile: path.join(outdir, worker.module.replace(/\.ts$/, '.js')) });
    await copyFile(path.join(dir, worker.entry), path.join(outdir, worker.entry));
    for (const input of Object.keys(built.metafile.inputs)) inputs.add(input);
    inputs.add(path.join(worker.dir, worker.entry));
  }
  const sources = [...inputs]
    .map((input) => path.relative(root, path.resolve(root, input)))
    .filter((input) => !input.startsWith('node_modules'))
    .sort();
  const info: CliBuildInfo = { id, builtAt, inputs: sources };
  const temporary = path.join(distRoot, `${CURRENT_FILE}.${process.pid}.tmp`);
  await writeFile(temporary, `${JSON.stringify(info)}\n`);
  await rename(temporary, path.join(distRoot, CURRENT_FILE));
  await removeOldBuilds(distRoot, id, builtAt);
  return info;
}

async function removeOldBuilds(distRoot: string, keep: string, now: number): Promise<void> {
  for (const entry of await readdir(distRoot, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === keep) continue;
    const dir = path.join(distRoot, entry.name);
    const info = await stat(dir).catch(() => undefined);
    if (info && now - info.mtimeMs > KEEP_OLD_BUILDS_MS) await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildCli().then(
    (info) => console.error(`built the sage command into ${path.join(CLI_DIST, info.id)} (${info.inputs.length} source files)`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
