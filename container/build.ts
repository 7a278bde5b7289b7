/**
 * Bundles the container's entrypoint into one ESM file (`<outDir>/trainer.mjs`), as the
 * Dockerfile's first stage runs it: `npx tsx container/build.ts dist/container`.
 * TensorFlow.js and sharp stay external: one tfjs instance must serve every backend, and
 * the native packages come from container/runtime-package.json inside the image.
 */
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const TRAINER_BUNDLE_NAME = 'trainer.mjs';
export const TRAINER_EXTERNALS = ['@tensorflow/*', 'sharp'];

/** Builds the bundle; resolves to its path. */
export async function bundleTrainer(outDir: string): Promise<string> {
  const outfile = path.resolve(outDir, TRAINER_BUNDLE_NAME);
  await build({
    entryPoints: [path.join(here, 'entrypoint.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: TRAINER_EXTERNALS,
    // CommonJS dependencies inside an ESM bundle still call require().
    banner: { js: "import { createRequire as __sageCreateRequire } from 'node:module'; const require = __sageCreateRequire(import.meta.url);" },
    sourcemap: 'inline',
    logLevel: 'warning',
  });
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
