/**
 * The engine's files in an ObjectStore the caller gives: named variables in and out of
 * safetensors, and the versioned JSON headers beside them (checkpoints, saved adapters).
 */
import * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import { readSafetensors, writeSafetensors, type SafetensorsEntry, type SafetensorsInput } from '../clip';
import type { ObjectStore } from '../storage';
import type { NamedVariable } from './adapters';
import { EngineCheckpointError } from './errors';

/** A file or folder in an ObjectStore: the engine is given both, and never looks a store up from a URI. */
export interface StoreLocation {
  store: ObjectStore;
  uri: string;
}

/** Reads the variables' current values (one download each; no tidy returns a TypedArray). */
export async function variableValues(variables: readonly NamedVariable[]): Promise<Record<string, SafetensorsInput>> {
  const out: Record<string, SafetensorsInput> = {};
  for (const v of variables) out[v.name] = { shape: [...v.variable.shape], data: (await v.variable.data()) as Float32Array };
  return out;
}

/** Writes the tensors as one safetensors file; returns the bytes written. */
export async function putSafetensors(file: StoreLocation, tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string>): Promise<Uint8Array> {
  const bytes = writeSafetensors(tensors, metadata);
  await file.store.put(file.uri, bytes, { contentType: 'application/octet-stream' });
  return bytes;
}

/** Every tensor of a safetensors file; an unreadable or truncated file is an EngineCheckpointError naming it. */
export async function getSafetensors(file: StoreLocation): Promise<Map<string, SafetensorsEntry>> {
  return parseSafetensors(await file.store.get(file.uri), file.uri);
}

/** The tensors of safetensors bytes read from `uri`. */
export function parseSafetensors(bytes: Uint8Array, uri: string): Map<string, SafetensorsEntry> {
  try {
    // A plain Uint8Array copy: a Node Buffer's slice() is a view, not a copy, which the reader relies on.
    return readSafetensors(new Uint8Array(bytes));
  } catch (error) {
    throw new EngineCheckpointError(`cannot read tensors from ${uri}: ${(error as Error).message}`, { cause: error });
  }
}

/** The entry `name` with the expected shape, or an error naming both. */
export function entryWithShape(tensors: Map<string, SafetensorsEntry>, name: string, shape: readonly number[], source: string): SafetensorsEntry {
  const entry = tensors.get(name);
  if (!entry) throw new EngineCheckpointError(`${source} has no tensor "${name}"; expected shape [${shape.join(', ')}]`);
  if (entry.shape.length !== shape.length || entry.shape.some((s, i) => s !== shape[i])) {
    throw new EngineCheckpointError(`${source}: tensor "${name}" has shape [${entry.shape.join(', ')}]; expected [${shape.join(', ')}]`);
  }
  return entry;
}

/**
 * Assigns stored values to the variables. Every name and shape is checked before the first
 * assignment, so a file that does not fit leaves the variables as they were.
 */
export function assignVariables(variables: readonly NamedVariable[], tensors: Map<string, SafetensorsEntry>, source: string): void {
  const entries = variables.map((v) => entryWithShape(tensors, v.name, v.variable.shape, source));
  variables.forEach((v, i) => tf.tidy(() => v.variable.assign(tf.tensor(entries[i]!.data, v.variable.shape))));
}

/**
 * A versioned JSON header (`format`, `version`) validated against its schema; an
 * EngineCheckpointError naming the file and what is wrong (not JSON: truncated or corrupt; other
 * format or version; fields that do not fit) otherwise.
 */
export function parseHeaderJson<T>(text: string, uri: string, expected: { what: string; format: string; version: number; schema: z.ZodType<T> }): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EngineCheckpointError(`${expected.what} ${uri} is not valid JSON (${text.length} bytes; truncated or corrupt?): ${(error as Error).message}`, { cause: error });
  }
  const { format, version } = (typeof json === 'object' && json !== null ? json : {}) as { format?: unknown; version?: unknown };
  if (format !== expected.format || version !== expected.version) {
    throw new EngineCheckpointError(`${expected.what} ${uri}: expected a ${expected.format} version ${expected.version}; got format ${String(format)} version ${String(version)}`);
  }
  const parsed = expected.schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new EngineCheckpointError(`${expected.what} ${uri} does not match the ${expected.format} schema: ${problems}`, { cause: parsed.error });
  }
  return parsed.data;
}
