#!/usr/bin/env node
// The `sage` command. It runs the built CLI in dist/cli/ (scripts/build-cli.ts; `npm ci` builds
// it), which starts without compiling TypeScript. A build that is missing, or older than one of
// the sources it was built from (an mtime check of its inputs, a few milliseconds), is rebuilt
// first; if building fails, or SAGE_CLI_FROM_SOURCE=1, the sources run through tsx instead.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const distRoot = path.join(root, 'dist', 'cli');

/** The current build's entry, or undefined when there is none or a source changed after it. */
function freshBuild() {
  let info;
  try {
    info = JSON.parse(readFileSync(path.join(distRoot, 'current.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const entry = path.join(distRoot, String(info.id), 'main.mjs');
  if (!existsSync(entry) || !Array.isArray(info.inputs) || info.inputs.length === 0) return undefined;
  for (const input of info.inputs) {
    let modified;
    try {
      modified = statSync(path.join(root, input)).mtimeMs;
    } catch {
      return undefined;
    }
    if (modified > info.builtAt) return undefined;
  }
  return entry;
}

async function fromSource() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/cli/main.ts');
}

async function load() {
  if (process.env.SAGE_CLI_FROM_SOURCE === '1') return fromSource();
  let entry = freshBuild();
  if (!entry) {
    try {
      const { register } = await import('tsx/esm/api');
      const unregister = register();
      const { buildCli } = await import('../scripts/build-cli.ts');
      const info = await buildCli(root);
      await unregister();
      entry = path.join(distRoot, info.id, 'main.mjs');
    } catch (error) {
      process.stderr.write(`sage: could not build dist/cli (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); running the sources through tsx\n`);
      return fromSource();
    }
  }
  return import(pathToFileURL(entry).href);
}

const { runCli } = await load();
process.exit(await runCli(process.argv.slice(2)));
