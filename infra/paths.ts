/** Repository paths the stack bundles from, found relative to this file (not the working directory). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoPath = (...parts: string[]): string => path.join(REPO_ROOT, ...parts);
