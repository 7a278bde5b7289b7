/**
 * Turns zod issues into manifest problems a person can act on: the path points at the
 * offending field (an unknown key is reported at the key itself), the message says what
 * was expected and what came, and a failed union reports the form the value was
 * evidently meant to be instead of zod's generic "Invalid input".
 */
import { z } from 'zod';
import { describeValue, formatJsonPath } from './problems';
import type { ManifestProblem } from './schema';

type Issue = z.core.$ZodIssue;

export interface IssueContext {
  /** The schema that was parsed, to list the allowed fields of an object. */
  schema: z.ZodType;
  /** The value that was parsed, to describe what came. */
  input: unknown;
  /** Prepended to every path (for example ['sweep', 3]). */
  basePath?: readonly PropertyKey[];
  /** Prepended to the formatted path as is (for example `shards/index.json:`). */
  pathPrefix?: string;
}

export function problemsFromIssues(issues: readonly Issue[], context: IssueContext): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  for (const issue of issues) convertIssue(issue, [...(context.basePath ?? [])], context, out);
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/** The schemas a path can lead to (several through a union). */
function schemasAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  let current: z.ZodType[] = [schema];
  const expand = (list: z.ZodType[]): z.ZodType[] =>
    list.flatMap((s) => {
      if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) return expand([s.unwrap() as z.ZodType]);
      if (s instanceof z.ZodUnion) return expand([...(s.options as readonly z.ZodType[])]);
      return [s];
    });
  for (const segment of path) {
    current = expand(current).flatMap((s): z.ZodType[] => {
      if (s instanceof z.ZodObject && typeof segment === 'string') {
        const child = (s.shape as Record<string, z.ZodType>)[segment];
        return child ? [child] : [];
      }
      if (s instanceof z.ZodArray && typeof segment === 'number') return [s.element as z.ZodType];
      if (s instanceof z.ZodRecord) return [s.valueType as z.ZodType];
      return [];
    });
  }
  return expand(current);
}

function allowedKeysAt(context: IssueContext, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(context.schema, path.slice((context.basePath ?? []).length))) {
    if (s instanceof z.ZodObject) for (const key of Object.keys(s.shape as object)) keys.add(key);
  }
  return [...keys];
}

const EXPECTED_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  record: 'an object',
  null: 'null',
};

function expectedWord(expected: string): string {
  return EXPECTED_WORDS[expected] ?? expected;
}

function bound(issue: { origin: string; inclusive?: boolean; exact?: boolean }, value: number | bigint, side: 'min' | 'max'): string {
  const limit = String(value);
  switch (issue.origin) {
    case 'array':
      return issue.exact ? `exactly ${limit} entries` : `${side === 'min' ? 'at least' : 'at most'} ${limit} entries`;
    case 'string':
      return issue.exact ? `exactly ${limit} characters` : `${side === 'min' ? 'at least' : 'at most'} ${limit} characters`;
    default: {
      const operator = side === 'min' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      return `a number ${operator} ${limit}`;
    }
  }
}

function describeSize(issueOrigin: string, value: unknown): string {
  if (issueOrigin === 'array' && Array.isArray(value)) return `${value.length} entries`;
  if (issueOrigin === 'string' && typeof value === 'string') return `${value.length} characters (${describeValue(value)})`;
  return describeValue(value);
}

/** True when a branch's issue shows the value is not of that branch's form at all. */
function isShapeMismatch(issue: Issue, value: unknown): boolean {
  if (issue.path.length === 0) return issue.code === 'invalid_type' || issue.code === 'unrecognized_keys';
  return issue.path.length === 1 && issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined;
}

function convertUnion(issue: Extract<Issue, { code: 'invalid_union' }>, path: PropertyKey[], context: IssueContext, out: ManifestProblem[]): void {
  const value = valueAt(context.input, path.slice((context.basePath ?? []).length));
  if (issue.errors.length === 0) {
    out.push(problem(path, context, `expected exactly one form, got ${describeValue(value)} which matches several`, 'schema'));
    return;
  }
  // A value of none of the branch types (a number where a name or an object goes).
  const allRootTypeMismatch = issue.errors.every((errors) => errors.some((e) => e.path.length === 0 && e.code === 'invalid_type'));
  if (allRootTypeMismatch) {
    const forms = issue.errors.map((errors) => {
      const root = errors.find((e) => e.path.length === 0 && e.code === 'invalid_type');
      return root && root.code === 'invalid_type' ? expectedWord(root.expected) : 'another form';
    });
    out.push(problem(path, context, `expected ${[...new Set(forms)].join(' or ')}, got ${describeValue(value)}`, 'schema'));
    return;
  }
  // A union of objects (a split's four forms): pick the form by the fields present.
  const options = schemasAt(context.schema, path.slice((context.basePath ?? []).length));
  const isPlainObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  if (isPlainObject && options.length === issue.errors.length && options.every((o) => o instanceof z.ZodObject)) {
    const keys = Object.keys(value);
    const formKeys = options.map((o) => Object.keys((o as z.ZodObject).shape));
    const forms = formKeys.map((k) => `{ ${k.map((key) => `"${key}": ...`).join(', ')} }`).join(', ');
    const present = formKeys.map((k, index) => ({ index, k })).filter(({ k }) => k.some((key) => keys.includes(key)));
    if (present.length !== 1) {
      const got = keys.length === 0 ? 'an empty object' : `the field(s) ${keys.join(', ')}`;
      const code = present.length === 0 ? 'missing-field' : 'schema';
      out.push(problem(path, context, `expected exactly one of ${forms}, got ${got}`, code));
      return;
    }
    for (const nested of issue.errors[present[0]!.index]!) convertIssue(nested, path, context, out);
    return;
  }
  // Otherwise the branch the value fits best: fewest shape mismatches, then fewest issues.
  const scored = issue.errors.map((errors, index) => ({
    index,
    errors,
    mismatches: errors.filter((e) => isShapeMismatch(e, value)).length,
  }));
  scored.sort((a, b) => a.mismatches - b.mismatches || a.errors.length - b.errors.length || a.index - b.index);
  for (const nested of scored[0]!.errors) convertIssue(nested, path, context, out);
}

function problem(path: readonly PropertyKey[], context: IssueContext, message: string, code: ManifestProblem['code']): ManifestProblem {
  return { path: `${context.pathPrefix ?? ''}${formatJsonPath(path)}`, message, code };
}

function convertIssue(issue: Issue, base: PropertyKey[], context: IssueContext, out: ManifestProblem[]): void {
  const path = [...base, ...issue.path];
  const relative = path.slice((context.basePath ?? []).length);
  const value = valueAt(context.input, relative);
  switch (issue.code) {
    case 'invalid_union':
      convertUnion(issue, path, context, out);
      return;
    case 'unrecognized_keys': {
      const allowed = allowedKeysAt(context, path);
      for (const key of issue.keys) {
        out.push(problem([...path, key], context, `unknown field "${key}"; expected only: ${allowed.join(', ')}`, 'unknown-field'));
      }
      return;
    }
    case 'invalid_type': {
      const parent = valueAt(context.input, relative.slice(0, -1));
      const missing = value === undefined && relative.length > 0 && parent !== null && typeof parent === 'object' && !Array.isArray(parent);
      if (missing) {
        const field = String(path[path.length - 1]);
        out.push(problem(path, context, `missing required field "${field}" (expected ${expectedWord(issue.expected)})`, 'missing-field'));
      } else {
        out.push(problem(path, context, `expected ${expectedWord(issue.expected)}, got ${describeValue(value)}`, 'schema'));
      }
      return;
    }
    case 'too_small':
      out.push(problem(path, context, `expected ${bound(issue, issue.minimum, 'min')}, got ${describeSize(issue.origin, value)}`, 'schema'));
      return;
    case 'too_big':
      out.push(problem(path, context, `expected ${bound(issue, issue.maximum, 'max')}, got ${describeSize(issue.origin, value)}`, 'schema'));
      return;
    case 'invalid_value': {
      const options = issue.values.map((v) => JSON.stringify(v));
      const expected = options.length === 1 ? options[0] : `one of ${options.join(', ')}`;
      out.push(problem(path, context, `expected ${expected}, got ${describeValue(value)}`, 'schema'));
      return;
    }
    case 'invalid_format':
      out.push(problem(path, context, `expected ${issue.format === 'regex' ? issue.message : `a ${issue.format}`}, got ${describeValue(value)}`, 'schema'));
      return;
    case 'not_multiple_of':
      out.push(problem(path, context, `expected a multiple of ${issue.divisor}, got ${describeValue(value)}`, 'schema'));
      return;
    case 'invalid_key':
      out.push(problem(path, context, `invalid key: ${issue.issues.map((i) => i.message).join('; ')}`, 'schema'));
      return;
    default:
      out.push(problem(path, context, issue.message, 'schema'));
  }
}
