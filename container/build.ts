/**
 * Bundles the container's entrypoint into one ESM file (`<outDir>/trainer.mjs`), as the
 * Dockerfile's first stage runs it: `npx tsx container/build.ts dist/container`. The image
 * decode worker threads load their module next to the bundle (src/data/decode/pool.ts looks
 * for `worker-entry.mjs` and `worker.js` beside `import.meta.url`), so those go there too, and
 * so do the data-parallel replicas' `replica-entry.mjs` and `replica-main.js` (one process per GPU).
 * TensorFlow.js and sharp stay external: one tfjs instance must serve every backend, and
 * the native packages come from container/runtime-package.json inside the image.
 */
import { build, type BuildOptions } from 'esbuild';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const TRAINER_BUNDLE_NAME = 'trainer.mjs';
/** Beside the bundle: the decode worker (module, entry), then the data-parallel replica (src/trainer/parallel/links.ts looks there). */
export const WORKER_FILES = ['worker.js', 'worker-entry.mjs', 'replica-main.js', 'replica-entry.mjs'] as const;
export const TRAINER_EXTERNALS = ['@tensorflow/*', 'sharp'];

const decodeDir = path.join(here, '..', 'src', 'data', 'decode');
const replicaDir = path.join(here, '..', 'src', 'trainer', 'parallel');

/** Builds the bundle and the decode worker beside it; resolves to the bundle's path. */
export async function bundleTrainer(outDir: string): Promise<string> {
  const outfile = path.resolve(outDir, TRAINER_BUNDLE_NAME);
  const common: BuildOptions = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: TRAINER_EXTERNALS,
    // CommonJS dependencies inside an ESM bundle still call require().
    banner: { js: "import { createRequire as __sageCreateRequire } from 'node:module'; const require = __sageCreateRequire(import.meta.url);" },
    sourcemap: 'inline',
    logLevel: 'warning',
  };
  await build({ ...common, entryPoints: [path.join(here, 'entrypoint.ts')], outfile });
  // `.js` is ESM in the image: /app/package.json (container/runtime-package.json) says "type": "module".
  await build({ ...common, entryPoints: [path.join(decodeDir, 'worker.ts')], outfile: path.resolve(outDir, WORKER_FILES[0]) });
  await copyFile(path.join(decodeDir, WORKER_FILES[1]), path.resolve(outDir, WORKER_FILES[1]));
  // Helper replicas (one process per GPU) start from these two.
  await build({ ...common, entryPoints: [path.join(replicaDir, 'replica-main.ts')], outfile: path.resolve(outDir, WORKER_FILES[2]) });
  await copyFile(path.join(replicaDir, WORKER_FILES[3]), path.resolve(outDir, WORKER_FILES[3]));
  return outfile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? 'dist/container';
  bundleTrainer(outDir).then(
    (file) => console.log(`bundled the trainer into ${file}`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
