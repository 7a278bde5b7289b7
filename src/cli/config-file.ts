/**
 * `--config FILE`: a settings layer in YAML or JSON for `sage train`, `run` and `submit`. Its
 * content is what a manifest's `training` holds (SettingsOverrides), checked by the same
 * schema and reported as manifest problems are: `path (line L, column C): message`, every
 * problem at once. Flags given beside it override it (settings-layer.ts).
 *
 * YAML is read with the `yaml` package (pinned exactly in package.json): it is maintained,
 * has no dependencies of its own, implements YAML 1.2 (so `no` and `on` stay strings, not
 * booleans as in YAML 1.1 readers) and keeps every node's source range, which the problems'
 * line numbers come from. JSON files go through the manifest's own JSON reader, which gives
 * syntax errors and schema problems their lines the same way as for a manifest.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { CliError } from '../common/errors';
import { SettingsOverrides } from '../contracts/settings';
import { formatProblems } from '../manifest/problems';
import { parseJsonDocument, problemsFromIssues, withPositions } from '../manifest';
import type { ManifestProblem } from '../manifest/schema';
import { storeFor } from '../storage';

/** A settings file is a handful of lines; anything near this is not one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** The config file is missing, unreadable or invalid; exits 2 with every problem. */
export class CliConfigError extends CliError {
  constructor(
    readonly uri: string,
    readonly problems: readonly ManifestProblem[],
  ) {
    // A problem of the file as a whole has no path; formatProblems would call it the manifest's.
    const named = problems.map((problem) => (problem.path.length > 0 ? problem : { ...problem, path: '(file)' }));
    super(`the config file ${uri} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${formatProblems(named)}`);
    this.name = 'CliConfigError';
  }
}

type ConfigFormat = 'json' | 'yaml';

/** By extension; a file without a telling one is JSON when it starts with `{`. */
export function configFormatOf(uri: string, text: string): ConfigFormat {
  if (/\.json$/i.test(uri)) return 'json';
  if (/\.ya?ml$/i.test(uri)) return 'yaml';
  return text.replace(/^\uFEFF/, '').trimStart().startsWith('{') ? 'json' : 'yaml';
}

/** `components.fit` → ['components', 'fit']; `sweep[2].alpha` → ['sweep', 2, 'alpha']. */
function segmentsOf(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(match[2] !== undefined ? Number(match[2]) : match[1]!);
  return out;
}

/** Line and column (1-based) of the deepest key of `path` that the document has. */
function yamlPosition(document: Document, counter: LineCounter, path: string): { line: number; column: number } | undefined {
  let node: unknown = document.contents;
  let offset: number | undefined = document.contents?.range?.[0];
  for (const segment of segmentsOf(path)) {
    if (!isMap(node)) break;
    const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
    if (!pair) break;
    offset = isScalar(pair.key) ? pair.key.range?.[0] : offset;
    node = pair.value;
  }
  if (offset === undefined) return undefined;
  const { line, col } = counter.linePos(offset);
  return { line, column: col };
}

function checkSettings(value: unknown): { ok: true; settings: SettingsOverrides } | { ok: false; problems: ManifestProblem[] } {
  // An empty file (or only comments) is an empty layer.
  const input = value === null || value === undefined ? {} : value;
  const parsed = SettingsOverrides.safeParse(input, { reportInput: true });
  if (parsed.success) return { ok: true, settings: parsed.data };
  return { ok: false, problems: problemsFromIssues(parsed.error.issues, { schema: SettingsOverrides, input }) };
}

/** Parses and checks the text of a config file; throws CliConfigError with every problem. */
export function parseConfigText(text: string, uri: string): SettingsOverrides {
  if (configFormatOf(uri, text) === 'json') {
    const document = parseJsonDocument(text);
    if (!document.ok) throw new CliConfigError(uri, document.problems);
    const checked = checkSettings(document.value);
    if (!checked.ok) throw new CliConfigError(uri, withPositions(text, checked.problems));
    return checked.settings;
  }
  const counter = new LineCounter();
  const document = parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter: counter, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new CliConfigError(
      uri,
      document.errors.map((error) => {
        const at = error.linePos?.[0];
        return { path: '', message: `invalid YAML: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, code: 'syntax', ...(at ? { line: at.line, column: at.col } : {}) };
      }),
    );
  }
  const checked = checkSettings(document.toJS());
  if (!checked.ok) {
    throw new CliConfigError(
      uri,
      checked.problems.map((problem) => ({ ...problem, ...(yamlPosition(document, counter, problem.path) ?? {}) })),
    );
  }
  return checked.settings;
}

/** Reads `--config` (a local path or an s3:// URI) into a settings layer. */
export async function readConfigFile(uri: string): Promise<SettingsOverrides> {
  const store = await storeFor(uri);
  if (!(await store.exists(uri))) throw new CliConfigError(uri, [{ path: '', message: `expected a YAML or JSON settings file, found no file at ${uri}` }]);
  const bytes = await store.get(uri, { maxBytes: MAX_CONFIG_BYTES }).catch((error: unknown) => {
    throw new CliConfigError(uri, [{ path: '', message: `expected a settings file of at most 1 MiB that can be read: ${(error as Error).message}` }]);
  });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CliConfigError(uri, [{ path: '', message: 'expected UTF-8 text, got an invalid byte sequence; save the file as UTF-8', code: 'encoding' }]);
  }
  return parseConfigText(text, uri);
}
