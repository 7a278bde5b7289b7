/**
 * The bottleneck rule and the learnable-parameter report. The report counts the
 * variables actually created; the formulas here are SPEC's, for tests and docs to
 * check the count against.
 */
import type { ParameterReport } from '../contracts/metrics';
import type { NamedVariable } from './adapters/parameters';

/** LIFT's rule: r = 2^max(0, floor(log2(C / (2L)))). CIFAR-100 on ViT-B/16 (L = 12): 4. */
export function liftBottleneck(numClasses: number, numLayers: number): number {
  return 2 ** Math.max(0, Math.floor(Math.log2(numClasses / (2 * numLayers))));
}

/** SPEC's per-block counts: AdaptFormer `(2r+3)d + r + 1`; SG-Adapter `(5r+d+4)d + 3r + 2` (`(5r+3)d + 3r + 2` without W_proj). */
export function perBlockFormula(kind: 'adaptformer' | 'sg' | 'sg-no-proj', width: number, bottleneck: number): number {
  const d = width;
  const r = bottleneck;
  switch (kind) {
    case 'adaptformer':
      return (2 * r + 3) * d + r + 1;
    case 'sg':
      return (5 * r + d + 4) * d + 3 * r + 2;
    case 'sg-no-proj':
      return (5 * r + 3) * d + 3 * r + 2;
  }
}

function sizeOf(variables: readonly NamedVariable[]): number {
  return variables.reduce((total, v) => total + v.variable.size, 0);
}

/** Counts what the model holds: adapters (all blocks), classifier W, FIT's s1 and s2. */
export function parameterReport(parts: {
  adapters: readonly NamedVariable[];
  classifier: readonly NamedVariable[];
  fitScalars: readonly NamedVariable[];
  numLayers: number;
  bottleneck: number;
}): ParameterReport {
  const adapters = sizeOf(parts.adapters);
  const classifier = sizeOf(parts.classifier);
  const fitScalars = sizeOf(parts.fitScalars);
  return {
    adapters,
    classifier,
    fitScalars,
    total: adapters + classifier + fitScalars,
    perBlock: parts.numLayers > 0 ? Math.round(adapters / parts.numLayers) : 0,
    bottleneck: parts.bottleneck,
  };
}
