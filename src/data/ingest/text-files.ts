/** The plain-text files of long-tailed benchmarks: `path label` lists and class-name lists. */
import { DataError } from '../../common/errors';

export class ListFileError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'ListFileError';
  }
}

export interface ListedImage {
  /** Path relative to the image root (a leading slash is dropped). */
  path: string;
  label: number;
}

/** `relative/path label` per line (ImageNet-LT, Places-LT); blank lines are ignored. */
export function parseListFile(text: string, name: string, classCount: number): ListedImage[] {
  const out: ListedImage[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line.length === 0) return;
    const match = /^(.*\S)\s+(\S+)$/.exec(line);
    if (!match) throw new ListFileError(`${name}:${i + 1}: expected "relative/path label", got ${JSON.stringify(line.slice(0, 80))}`);
    const label = Number(match[2]);
    if (!/^\d+$/.test(match[2]!) || label >= classCount) {
      throw new ListFileError(`${name}:${i + 1}: expected a class index in [0, ${classCount - 1}], got ${JSON.stringify(match[2])}`);
    }
    out.push({ path: match[1]!.replace(/^\/+/, ''), label });
  });
  if (out.length === 0) throw new ListFileError(`${name}: no "path label" lines`);
  return out;
}

const WORDNET_PREFIX = /^n\d{8}\s+/;

/**
 * Class names, one per line in label order (LIFT's classnames.txt). A file whose every line
 * starts with a WordNet id ("n01440764 tench") has the ids dropped.
 */
export function parseClassNames(text: string, name: string): string[] {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (lines.length < 2) throw new ListFileError(`${name}: expected one class name per line (at least two), got ${lines.length}`);
  return lines.every((line) => WORDNET_PREFIX.test(line)) ? lines.map((line) => line.replace(WORDNET_PREFIX, '')) : lines;
}
