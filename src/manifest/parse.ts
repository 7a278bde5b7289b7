/**
 * From text to a typed manifest without touching storage: size limit, JSON syntax (with
 * line and column), then the schema. validateManifest builds on these steps and adds the
 * checks that need the classes, the referenced files and the bucket.
 */
import type { z } from 'zod';
import { findJsonSyntaxError, locateJsonPaths } from './json-text';
import { decodeUtf8, invalidUtf8Offset } from './lines';
import { ProblemCollector } from './problems';
import { Manifest, MAX_MANIFEST_BYTES, type ManifestProblem } from './schema';
import { problemsFromIssues } from './zod-problems';

export type ParseManifestResult = { ok: true; manifest: Manifest } | { ok: false; problems: ManifestProblem[] };

export type JsonDocumentResult = { ok: true; value: unknown } | { ok: false; problems: ManifestProblem[] };

/** The too-large problem for a manifest of `bytes` (undefined: only known to exceed the limit), or undefined when it fits. */
export function sizeProblem(bytes: number | undefined): ManifestProblem | undefined {
  if (bytes !== undefined && bytes <= MAX_MANIFEST_BYTES) return undefined;
  const got = bytes === undefined ? 'more' : `${bytes.toLocaleString('en-US')} bytes`;
  return {
    path: '',
    message: `expected a manifest of at most ${MAX_MANIFEST_BYTES.toLocaleString('en-US')} bytes (10 MB), got ${got}; put large item lists in a referenced JSONL or list file`,
    code: 'too-large',
  };
}

/**
 * The manifest's bytes as text: refused when over the size limit, or when they are not
 * UTF-8 (with the byte offset of the first bad sequence). A lenient decoder would turn the
 * bad bytes into U+FFFD and silently change class names, and with them the prompts.
 */
export function decodeManifestBytes(bytes: Uint8Array): { ok: true; text: string } | { ok: false; problems: ManifestProblem[] } {
  const tooLarge = sizeProblem(bytes.length);
  if (tooLarge) return { ok: false, problems: [tooLarge] };
  const text = decodeUtf8(bytes);
  if (text !== undefined) return { ok: true, text };
  const offset = invalidUtf8Offset(bytes);
  const before = bytes.subarray(0, offset);
  const line = before.reduce((count, byte) => count + (byte === 10 ? 1 : 0), 1);
  const hex = Array.from(bytes.subarray(offset, Math.min(bytes.length, offset + 4)), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return {
    ok: false,
    problems: [{ path: '', message: `expected UTF-8 text, got an invalid byte sequence at byte offset ${offset} (line ${line}: bytes ${hex}); save the manifest as UTF-8`, line, code: 'encoding' }],
  };
}

/** Parses JSON text (a leading byte-order mark is ignored); a syntax error comes back with its line and column. */
export function parseJsonDocument(text: string): JsonDocumentResult {
  const tooLarge = sizeProblem(Buffer.byteLength(text, 'utf8'));
  if (tooLarge) return { ok: false, problems: [tooLarge] };
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (error) {
    const located = findJsonSyntaxError(body);
    const problem: ManifestProblem = located
      ? { path: '', message: `invalid JSON: ${located.message}`, line: located.line, column: located.column, code: 'syntax' }
      : { path: '', message: `invalid JSON: ${(error as Error).message}`, code: 'syntax' };
    return { ok: false, problems: [problem] };
  }
}

/** The typed value when a parsed value fits `schema`, else its schema problems (paths as the validator reports them). */
export function checkSchemaOf<T>(schema: z.ZodType<T>, value: unknown): { ok: true; value: T } | { ok: false; problems: ManifestProblem[] } {
  const result = schema.safeParse(value, { reportInput: true });
  return result.success ? { ok: true, value: result.data } : { ok: false, problems: problemsFromIssues(result.error.issues, { schema, input: value }) };
}

/** The typed manifest when a parsed value fits the schema, else its schema problems. */
export function checkSchema(value: unknown): { ok: true; manifest: Manifest } | { ok: false; problems: ManifestProblem[] } {
  const result = Manifest.safeParse(value, { reportInput: true });
  return result.success ? { ok: true, manifest: result.data } : { ok: false, problems: problemsFromIssues(result.error.issues, { schema: Manifest, input: value }) };
}

/**
 * Adds the manifest line and column to problems whose path is a JSON path in `text`
 * (the nearest enclosing field when the field itself is absent).
 */
export function withPositions(text: string, problems: ManifestProblem[]): ManifestProblem[] {
  const candidates = (path: string): string[] => {
    const out = [path];
    let current = path;
    while (current.length > 0) {
      current = current.replace(/(\.[^.[\]]+|\[[^\]]*\])$/, '');
      if (current === out[out.length - 1]) break;
      out.push(current);
    }
    return out;
  };
  const needing = new Set(problems.filter((p) => p.line === undefined && p.path.length > 0 && !p.path.includes(':')));
  if (needing.size === 0) return problems;
  const wanted = new Set([...needing].flatMap((p) => candidates(p.path)));
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const positions = locateJsonPaths(body, wanted);
  return problems.map((problem) => {
    if (!needing.has(problem)) return problem;
    const found = candidates(problem.path)
      .map((candidate) => positions.get(candidate))
      .find((position) => position !== undefined);
    return found ? { ...problem, line: found.line, column: found.column } : problem;
  });
}

/** Text → Manifest, checking syntax and schema only (no storage, no cross-field checks). */
export function parseManifest(text: string): ParseManifestResult {
  const document = parseJsonDocument(text);
  if (!document.ok) return document;
  const checked = checkSchema(document.value);
  if (checked.ok) return checked;
  const collector = new ProblemCollector();
  collector.addAll(checked.problems);
  return { ok: false, problems: withPositions(text, collector.list()) };
}
