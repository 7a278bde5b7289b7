/**
 * Creating an adapter's variables from a declarative list, so every adapter is built,
 * named, counted, saved and restored the same way. Initialisation follows SPEC §3.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../random';

/** A trainable tensor with the stable name used in checkpoints and saved adapters. */
export interface NamedVariable {
  readonly name: string;
  readonly variable: tf.Variable;
}

export type Initializer =
  /** Kaiming-normal for a `[fanIn, fanOut]` weight: std = 1/sqrt(3·fanIn), seeded by name. */
  | { kind: 'kaiming' }
  | { kind: 'constant'; value: number }
  /** A square identity matrix (W_proj). */
  | { kind: 'identity' };

export interface ParameterSpec {
  name: string;
  shape: number[];
  init: Initializer;
}

function initialValues(spec: ParameterSpec, seed: number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  switch (spec.init.kind) {
    case 'kaiming': {
      const fanIn = spec.shape[0] ?? 1;
      return SeededRandom.forStream(seed, spec.name).normal(size, 1 / Math.sqrt(3 * fanIn));
    }
    case 'constant':
      return new Float32Array(size).fill(spec.init.value);
    case 'identity': {
      const n = spec.shape[0] ?? 0;
      const values = new Float32Array(size);
      for (let i = 0; i < n; i++) values[i * n + i] = 1;
      return values;
    }
  }
}

/** Creates the variables of `specs` in order (the order is the optimizer's slot order). */
export function createVariables(specs: readonly ParameterSpec[], seed: number): NamedVariable[] {
  return specs.map((spec) => ({
    name: spec.name,
    variable: tf.variable(tf.tensor(initialValues(spec, seed), spec.shape), true),
  }));
}

/** Looks a variable up by its short name within an adapter (throws if the adapter lacks it). */
export function variableNamed(variables: readonly NamedVariable[], prefix: string, short: string): tf.Variable {
  const found = variables.find((v) => v.name === `${prefix}.${short}`);
  if (!found) throw new Error(`adapter variable ${prefix}.${short} was not created`);
  return found.variable;
}
