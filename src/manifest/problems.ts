/**
 * Problems: how a manifest's faults are named (a JSON path or `file:line`), collected with
 * a per-kind cap so a million-line bad file still gives a readable report, and printed.
 */
import type { ManifestProblem, ProblemCode } from './schema';
import { ManifestError } from '../common/errors';

/** Problems of one kind listed before the rest are only counted. */
export const DEFAULT_PROBLEMS_PER_CODE = 100;

/** `train.items[3].label` from ['train', 'items', 3, 'label']; odd keys are quoted: `training["a b"]`. */
export function formatJsonPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out.length === 0 ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** A short, bounded rendering of a value for messages: `"abc"`, `-1`, `an object`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/**
 * Collects problems, keeping the first `perCode` of each kind and counting the rest, so
 * the report stays readable and memory stays bounded however bad a referenced file is.
 */
export class ProblemCollector {
  private readonly kept: ManifestProblem[] = [];
  private readonly counts = new Map<string, number>();
  private readonly firstOmitted = new Map<string, ManifestProblem>();

  constructor(private readonly perCode = DEFAULT_PROBLEMS_PER_CODE) {}

  add(problem: ManifestProblem): void {
    const code = problem.code ?? 'schema';
    const count = (this.counts.get(code) ?? 0) + 1;
    this.counts.set(code, count);
    if (count <= this.perCode) this.kept.push(problem);
    else if (!this.firstOmitted.has(code)) this.firstOmitted.set(code, problem);
  }

  addAll(problems: Iterable<ManifestProblem>): void {
    for (const problem of problems) this.add(problem);
  }

  get size(): number {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }

  /** Kept problems, then one line per kind that overflowed saying how many more there were. */
  list(): ManifestProblem[] {
    const overflow: ManifestProblem[] = [];
    for (const [code, first] of this.firstOmitted) {
      const more = this.counts.get(code)! - this.perCode;
      overflow.push({
        path: first.path,
        message: `${more.toLocaleString('en-US')} more "${code}" problem(s) not listed (the first ${this.perCode} are), starting here: ${first.message}`,
        ...(first.line !== undefined ? { line: first.line } : {}),
        code: 'limit',
      });
    }
    return [...this.kept, ...overflow];
  }
}

/** One problem per line: `path (line L, column C): message`. */
export function formatProblems(problems: readonly ManifestProblem[]): string {
  return problems
    .map((problem) => {
      const where = [problem.line !== undefined ? `line ${problem.line}` : '', problem.column !== undefined ? `column ${problem.column}` : '']
        .filter((part) => part.length > 0)
        .join(', ');
      const path = problem.path.length > 0 ? problem.path : '(manifest)';
      return `${path}${where ? ` (${where})` : ''}: ${problem.message}`;
    })
    .join('\n');
}

/** Thrown by the trainer and the CLI when a manifest is refused; carries every problem. */
export class ManifestValidationError extends ManifestError {
  constructor(
    readonly problems: readonly ManifestProblem[],
    readonly manifestUri?: string,
  ) {
    const head = `the manifest${manifestUri ? ` ${manifestUri}` : ''} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`;
    super(`${head}:\n${formatProblems(problems)}`);
    this.name = 'ManifestValidationError';
  }
}

export function problemCode(problem: ManifestProblem): ProblemCode {
  return problem.code ?? 'schema';
}
