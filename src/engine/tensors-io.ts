/** Moving named variables in and out of safetensors through an ObjectStore. */
import * as tf from '@tensorflow/tfjs';
import { readSafetensors, writeSafetensors, type SafetensorsEntry, type SafetensorsInput } from '../clip/safetensors';
import { storeFor } from '../storage';
import type { NamedVariable } from './adapters/parameters';
import { EngineCheckpointError } from './errors';

/** Reads the variables' current values (one download each; no tidy returns a TypedArray). */
export async function variableValues(variables: readonly NamedVariable[]): Promise<Record<string, SafetensorsInput>> {
  const out: Record<string, SafetensorsInput> = {};
  for (const v of variables) out[v.name] = { shape: [...v.variable.shape], data: (await v.variable.data()) as Float32Array };
  return out;
}

export async function putSafetensors(uri: string, tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string>): Promise<void> {
  const store = await storeFor(uri);
  await store.put(uri, writeSafetensors(tensors, metadata), { contentType: 'application/octet-stream' });
}

export async function getSafetensors(uri: string): Promise<Map<string, SafetensorsEntry>> {
  const store = await storeFor(uri);
  try {
    // A plain Uint8Array copy: a Node Buffer's slice() is a view, not a copy, which the reader relies on.
    return readSafetensors(new Uint8Array(await store.get(uri)));
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

/** Assigns stored values to the variables (names and shapes must match). */
export function assignVariables(variables: readonly NamedVariable[], tensors: Map<string, SafetensorsEntry>, source: string): void {
  for (const v of variables) {
    const entry = entryWithShape(tensors, v.name, v.variable.shape, source);
    tf.tidy(() => v.variable.assign(tf.tensor(entry.data, v.variable.shape)));
  }
}
