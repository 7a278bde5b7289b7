/**
 * Reading and writing the pipeline's JSON documents (schemas in src/contracts/documents.ts):
 * every read is parsed against its schema, so a document of the wrong shape is an error
 * naming its key, never a silently wrong value.
 */
import type { z } from 'zod';
import { ObjectNotFoundError, type ObjectStore } from '../storage';
import { PipelineDocumentError } from './errors';

export { RejectionReport, RunEntry, RunRecord, RunStatusDocument, UploadClaim } from '../contracts/documents';

export interface StoredDocument<T> {
  value: T;
  etag: string;
}

/** Reads and validates a JSON document; null when it does not exist. */
export async function readDocument<T>(store: ObjectStore, uri: string, schema: z.ZodType<T, unknown>): Promise<StoredDocument<T> | null> {
  const info = await store.head(uri);
  if (!info) return null;
  let text: string;
  try {
    text = await store.getText(uri);
  } catch (error) {
    // Deleted between head and get.
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PipelineDocumentError(uri, 'expected a JSON document, found text that does not parse', { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new PipelineDocumentError(uri, `unexpected shape at "${first?.path.join('.') ?? ''}": ${first?.message ?? 'invalid'}`, { cause: parsed.error });
  }
  return { value: parsed.data, etag: info.etag };
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
