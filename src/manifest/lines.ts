/**
 * Line-by-line reading of the text files a manifest references (JSONL, list files) with
 * bounds: at most `maxBytes` in all and `maxLineBytes` per line, so neither an endless
 * object nor one line of a gigabyte can fill memory, and each line decoded as strict UTF-8
 * (a replaced byte would silently change a class name). readline does neither bound, which
 * is why this splitter exists.
 */
import type { Readable } from 'node:stream';
import { ObjectTooLargeError } from '../storage';
import { ManifestError } from '../common/errors';

/** Most bytes of one JSONL or list file (an iNaturalist-sized list is ~30 MB). */
export const MAX_ITEM_FILE_BYTES = 1024 * 1024 * 1024;
/** Most bytes of one line of such a file (an item is a path of ≤ 1,024 characters and a label). */
export const MAX_LINE_BYTES = 64 * 1024;

export interface LineLimits {
  maxBytes: number;
  maxLineBytes: number;
  /**
   * A wall-clock deadline (Date.now() ms) for reading: the upload Lambda's own, less what it
   * needs to write its verdict, so a list that takes too long gets a rejection report rather
   * than a time-out with nothing written. Checked every DEADLINE_CHECK_LINES lines.
   */
  deadline?: number;
}

const DEADLINE_CHECK_LINES = 1024;

export const ITEM_FILE_LIMITS: LineLimits = { maxBytes: MAX_ITEM_FILE_BYTES, maxLineBytes: MAX_LINE_BYTES };

/** A line, or the byte offset (in the file) of the first invalid UTF-8 sequence in it. */
export type TextLine = { line: number; text: string } | { line: number; invalidUtf8At: number };

/** A file broke a bound: which one, at which line. */
export class ManifestFileLimitError extends ManifestError {
  constructor(
    readonly uri: string,
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'ManifestFileLimitError';
  }
}

/**
 * Offset of the first byte of `bytes` that does not start a valid UTF-8 sequence (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or -1 when all of it is valid.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    let need: number;
    let min: number;
    let max = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = b === 0xe0 ? 0xa0 : 0x80;
      if (b === 0xed) max = 0x9f; // no UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = b === 0xf0 ? 0x90 : 0x80;
      if (b === 0xf4) max = 0x8f; // nothing above U+10FFFF
    } else return i;
    if (i + need >= n) return i; // truncated sequence
    const second = bytes[i + 1]!;
    if (second < min || second > max) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes strict UTF-8; undefined when invalid (find where with invalidUtf8Offset). */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function lineOf(bytes: Buffer, line: number, fileOffset: number): TextLine {
  // Lines end in \n; a \r before it is part of a CRLF ending.
  const body = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.subarray(0, bytes.length - 1) : bytes;
  const text = decodeUtf8(body);
  return text !== undefined ? { line, text } : { line, invalidUtf8At: fileOffset + invalidUtf8Offset(body) };
}

/**
 * The lines of `stream` (1-based numbers, blank ones included), each decoded as strict UTF-8.
 * Throws ManifestFileLimitError past `limits`; stops reading there.
 */
export async function* readBoundedLines(stream: Readable, uri: string, limits: LineLimits): AsyncGenerator<TextLine> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  let line = 0;
  let lineStart = 0; // file offset of the current line's first byte
  const tooLong = (): ManifestFileLimitError =>
    new ManifestFileLimitError(uri, line + 1, `${uri}:${line + 1}: expected lines of at most ${limits.maxLineBytes.toLocaleString('en-US')} bytes, got a longer one`);
  try {
    for await (const raw of stream) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      total += chunk.length;
      if (total > limits.maxBytes) {
        throw new ManifestFileLimitError(uri, line + 1, `${uri}: expected a file of at most ${limits.maxBytes.toLocaleString('en-US')} bytes, got more (stopped reading at line ${line + 1})`);
      }
      let start = 0;
      for (;;) {
        const end = chunk.indexOf(10, start);
        if (end < 0) break;
        const piece = chunk.subarray(start, end);
        if (pendingBytes + piece.length > limits.maxLineBytes) throw tooLong();
        const bytes = pendingBytes > 0 ? Buffer.concat([...pending, piece]) : piece;
        line += 1;
        if (limits.deadline !== undefined && line % DEADLINE_CHECK_LINES === 0 && Date.now() > limits.deadline) {
          throw new ManifestFileLimitError(uri, line, `${uri}: validation stopped reading at line ${line.toLocaleString('en-US')}: the validation function's time ran out; split the file into smaller ones or prepare the split as shards (an index is read, not every line)`);
        }
        yield lineOf(bytes, line, lineStart);
        lineStart += bytes.length + 1;
        pending = [];
        pendingBytes = 0;
        start = end + 1;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        if (pendingBytes + rest.length > limits.maxLineBytes) throw tooLong();
        pending.push(rest);
        pendingBytes += rest.length;
      }
    }
    if (pendingBytes > 0) {
      line += 1;
      yield lineOf(Buffer.concat(pending), line, lineStart);
    }
  } catch (error) {
    if (error instanceof ObjectTooLargeError) {
      throw new ManifestFileLimitError(uri, line + 1, `${uri}: expected a file of at most ${error.limitBytes.toLocaleString('en-US')} bytes, got more`);
    }
    throw error;
  } finally {
    stream.destroy();
  }
}
