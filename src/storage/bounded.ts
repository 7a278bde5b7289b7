/**
 * Reads with a ceiling: every store's `maxBytes` option goes through these helpers, so a
 * reader of hostile input (a manifest, a list file) holds at most the limit in memory and
 * stops reading there, whatever the object's real size.
 */
import { Transform, type Readable } from 'node:stream';
import { ObjectTooLargeError } from './types';

/** Passes `input` through, erroring with ObjectTooLargeError once more than `maxBytes` have come. */
export function limitStream(input: Readable, uri: string, maxBytes: number): Readable {
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) {
        input.destroy();
        callback(new ObjectTooLargeError(uri, maxBytes));
        return;
      }
      callback(null, chunk);
    },
  });
  input.on('error', (error) => limiter.destroy(error));
  return input.pipe(limiter);
}

/** Collects a stream into one buffer, refusing more than `maxBytes` (when given). */
export async function collectStream(input: Readable, uri: string, maxBytes?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let seen = 0;
  try {
    for await (const chunk of input) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      seen += bytes.length;
      if (maxBytes !== undefined && seen > maxBytes) throw new ObjectTooLargeError(uri, maxBytes);
      chunks.push(bytes);
    }
  } finally {
    input.destroy();
  }
  return Buffer.concat(chunks);
}
