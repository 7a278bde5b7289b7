/**
 * A small JSON scanner for what JSON.parse will not tell us: where a syntax error is
 * (line and column, whatever the Node version's message looks like) and where a field
 * sits in the text, so schema problems can carry a line too. It only runs after
 * JSON.parse has failed or a problem was found, so its speed matters little.
 */
import { formatJsonPath } from './problems';
import { ManifestError } from '../common/errors';

/** Deeper nesting than this is refused rather than risking the stack. */
const MAX_DEPTH = 256;

export interface TextPosition {
  line: number;
  column: number;
}

export interface JsonSyntaxProblem extends TextPosition {
  offset: number;
  message: string;
}

class JsonScanError extends ManifestError {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/** Offset → 1-based line and column. */
export function positionOf(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function describeChar(text: string, offset: number): string {
  if (offset >= text.length) return 'the end of the text';
  return JSON.stringify(text[offset]);
}

type Visitor = (path: readonly PropertyKey[], offset: number) => void;

class Scanner {
  private i = 0;
  private readonly path: PropertyKey[] = [];

  constructor(
    private readonly text: string,
    private readonly visit?: Visitor,
  ) {}

  scanDocument(): void {
    this.skipWhitespace();
    this.value(0);
    this.skipWhitespace();
    if (this.i < this.text.length) this.fail(`expected the end of the document after the top-level value, got ${describeChar(this.text, this.i)}`);
  }

  private fail(message: string, offset = this.i): never {
    throw new JsonScanError(offset, message);
  }

  private skipWhitespace(): void {
    const text = this.text;
    while (this.i < text.length) {
      const c = text.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }

  private value(depth: number): void {
    if (depth > MAX_DEPTH) this.fail(`expected at most ${MAX_DEPTH} levels of nesting, got more`);
    this.visit?.(this.path, this.i);
    const c = this.text[this.i];
    if (c === '{') this.object(depth);
    else if (c === '[') this.array(depth);
    else if (c === '"') this.string();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) this.number();
    else if (c === 't') this.literal('true');
    else if (c === 'f') this.literal('false');
    else if (c === 'n') this.literal('null');
    else if (c === "'") this.fail(`expected a value, got a single quote: JSON strings use double quotes`);
    else this.fail(`expected a value (object, array, string, number, true, false or null), got ${describeChar(this.text, this.i)}`);
  }

  /** Matches a literal character by character, so an error points at the first wrong one. */
  private literal(word: string): void {
    for (let k = 0; k < word.length; k++, this.i++) {
      if (this.text[this.i] !== word[k]) this.fail(`expected "${word}", got ${describeChar(this.text, this.i)} at its character ${k + 1}`);
    }
  }

  private object(depth: number): void {
    this.i++; // {
    this.skipWhitespace();
    if (this.text[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.i] !== '"') {
        const hint = this.text[this.i] === '}' ? ' (a trailing comma is not allowed)' : '';
        this.fail(`expected a property name in double quotes, got ${describeChar(this.text, this.i)}${hint}`);
      }
      const keyStart = this.i;
      const key = this.string();
      this.path.push(key);
      this.visit?.(this.path, keyStart);
      this.skipWhitespace();
      if (this.text[this.i] !== ':') this.fail(`expected ':' after property name "${key}", got ${describeChar(this.text, this.i)}`);
      this.i++;
      this.skipWhitespace();
      this.value(depth + 1);
      this.path.pop();
      this.skipWhitespace();
      const c = this.text[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return;
      }
      this.fail(`expected ',' or '}' after the value of "${key}", got ${describeChar(this.text, this.i)}`);
    }
  }

  private array(depth: number): void {
    this.i++; // [
    this.skipWhitespace();
    if (this.text[this.i] === ']') {
      this.i++;
      return;
    }
    for (let index = 0; ; index++) {
      this.skipWhitespace();
      if (this.text[this.i] === ']') this.fail(`expected a value after ',', got ']' (a trailing comma is not allowed)`);
      this.path.push(index);
      this.value(depth + 1);
      this.path.pop();
      this.skipWhitespace();
      const c = this.text[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return;
      }
      this.fail(`expected ',' or ']' after an array element, got ${describeChar(this.text, this.i)}`);
    }
  }

  private string(): string {
    const start = this.i;
    this.i++; // opening quote
    const text = this.text;
    let hasEscape = false;
    while (this.i < text.length) {
      const c = text.charCodeAt(this.i);
      if (c === 34) {
        this.i++;
        const raw = text.slice(start, this.i);
        return hasEscape ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      }
      if (c === 92) {
        hasEscape = true;
        const next = text[this.i + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(this.i + 2, this.i + 6))) this.fail('expected four hex digits after \\u', this.i);
          this.i += 6;
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) this.i += 2;
        else this.fail(`expected an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX), got ${describeChar(text, this.i + 1)}`, this.i);
        continue;
      }
      if (c < 32) this.fail('expected the string to end before the line break (control characters must be escaped)', this.i);
      this.i++;
    }
    const opened = positionOf(text, start);
    return this.fail(`expected a closing '"' for the string that starts at line ${opened.line}, column ${opened.column}, got the end of the text`);
  }

  private number(): void {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.i, this.i + 400));
    if (!match || match[0].length === 0 || match[0] === '-') this.fail(`expected a number, got ${describeChar(this.text, this.i)}`);
    this.i += match[0].length;
  }
}

/** The first syntax error in `text`, or undefined when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxProblem | undefined {
  try {
    new Scanner(text).scanDocument();
    return undefined;
  } catch (error) {
    if (!(error instanceof JsonScanError)) throw error;
    return { offset: error.offset, message: error.message, ...positionOf(text, error.offset) };
  }
}

/**
 * Where each of the wanted JSON paths (formatted as formatJsonPath does) starts in the text:
 * a member's key for object members, the value for array elements.
 */
export function locateJsonPaths(text: string, wanted: ReadonlySet<string>): Map<string, TextPosition> {
  const offsets = new Map<string, number>();
  if (wanted.size === 0) return new Map();
  const visitor: Visitor = (path, offset) => {
    const key = formatJsonPath(path);
    if (wanted.has(key) && !offsets.has(key)) offsets.set(key, offset);
  };
  try {
    new Scanner(text, visitor).scanDocument();
  } catch (error) {
    if (!(error instanceof JsonScanError)) throw error;
  }
  // One pass over the text turns the sorted offsets into lines and columns.
  const sorted = [...offsets.entries()].sort((a, b) => a[1] - b[1]);
  const out = new Map<string, TextPosition>();
  let line = 1;
  let lineStart = 0;
  let i = 0;
  for (const [key, offset] of sorted) {
    for (; i < offset; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    out.set(key, { line, column: offset - lineStart + 1 });
  }
  return out;
}
