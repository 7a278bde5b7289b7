/**
 * Writes schema/manifest.schema.json from the zod schema. `--check` only compares and
 * exits 1 when the committed file is stale (for CI).
 *
 *   npx tsx scripts/gen-manifest-schema.ts [--check]
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifestJsonSchemaText } from '../src/manifest/json-schema';

export const MANIFEST_SCHEMA_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'schema', 'manifest.schema.json');

async function main(): Promise<void> {
  const text = manifestJsonSchemaText();
  if (process.argv.includes('--check')) {
    const current = await readFile(MANIFEST_SCHEMA_PATH, 'utf8').catch(() => '');
    if (current !== text) {
      console.error(`${MANIFEST_SCHEMA_PATH} is stale: run npx tsx scripts/gen-manifest-schema.ts`);
      process.exitCode = 1;
    }
    return;
  }
  await writeFile(MANIFEST_SCHEMA_PATH, text);
  console.log(`wrote ${MANIFEST_SCHEMA_PATH}`);
}

await main();
