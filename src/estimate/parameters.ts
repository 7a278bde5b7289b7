/**
 * The adapters' parameter counts (SPEC section 2), as formulas: LIFT's bottleneck rule and the
 * per-block counts of AdaptFormer and the SG-Adapter. Handler-safe, so the memory model and
 * the validation function count what the engine (src/engine/adapters.ts re-exports these)
 * creates without loading TensorFlow.js.
 */

/** LIFT's rule: r = 2^max(0, floor(log2(C / (2L)))). CIFAR-100 on ViT-B/16 (L = 12): 4. */
export function liftBottleneck(numClasses: number, numLayers: number): number {
  return 2 ** Math.max(0, Math.floor(Math.log2(numClasses / (2 * numLayers))));
}

export type AdapterKind = 'adaptformer' | 'sg' | 'sg-no-proj';

/** SPEC's per-block counts: AdaptFormer `(2r+3)d + r + 1`; SG-Adapter `(5r+d+4)d + 3r + 2` (`(5r+3)d + 3r + 2` without W_proj). */
export function perBlockFormula(kind: AdapterKind, width: number, bottleneck: number): number {
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
