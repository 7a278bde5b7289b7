/**
 * The folder of this package (the one holding its package.json), found by walking up from a
 * module's own URL. The same code runs from src/ through tsx and from the bundle in
 * dist/cli/<build>/, so files of the repository (fixtures/, src/cli/main.ts) are found from
 * the package root, never by a fixed number of `..` from the module.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder at or above `moduleUrl`'s that holds a package.json; undefined at the file system's root. */
export function packageRootOf(moduleUrl: string): string | undefined {
  let dir = path.dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
