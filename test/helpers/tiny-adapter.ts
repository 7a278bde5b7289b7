/**
 * A saved LIFT adapter for TINY_CLIP_CONFIG, written as the engine's saveAdapter lays it out
 * (adapter.json + adapter.safetensors with AdaptFormer tensor names), without TensorFlow.js:
 * the inference manifest's validator reads only headers and shapes.
 */
import { writeSafetensors, type SafetensorsInput } from '../../src/clip/safetensors';
import type { AdapterHeader } from '../../src/contracts/adapter';
import { resolveSettings, type SettingsOverrides } from '../../src/contracts/settings';
import { TINY_CLIP_CONFIG } from './tiny-clip';

export function tinyAdapterFiles(classNames: readonly string[], overrides: SettingsOverrides = { method: 'lift' }): { header: string; tensors: Uint8Array } {
  const settings = resolveSettings(overrides);
  const d = TINY_CLIP_CONFIG.vision.hiddenSize;
  const c = classNames.length;
  const r = 1;
  const zeros = (...shape: number[]): SafetensorsInput => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  const tensors: Record<string, SafetensorsInput> = {
    'classifier.weight': zeros(c, d),
    'zero_shot.weight': zeros(c, d),
    'zero_shot.text_embeddings': zeros(c, TINY_CLIP_CONFIG.projectionDim),
  };
  for (let layer = 0; layer < TINY_CLIP_CONFIG.vision.numLayers; layer++) {
    const p = `adapters.${layer}`;
    if (settings.components.sg) {
      Object.assign(tensors, { [`${p}.proj.weight`]: zeros(d, d), [`${p}.proj.bias`]: zeros(d), [`${p}.down_v.weight`]: zeros(d, r), [`${p}.down_vt.weight`]: zeros(d, r), [`${p}.down_t.weight`]: zeros(d, r), [`${p}.up.weight`]: zeros(2 * r, d) });
    } else {
      Object.assign(tensors, { [`${p}.ln.gamma`]: zeros(d), [`${p}.ln.beta`]: zeros(d), [`${p}.down.weight`]: zeros(d, r), [`${p}.down.bias`]: zeros(r), [`${p}.up.weight`]: zeros(r, d), [`${p}.up.bias`]: zeros(d), [`${p}.scale`]: zeros() });
    }
  }
  if (settings.components.fit) Object.assign(tensors, { 'fit.s1': zeros(), 'fit.s2': zeros() });
  const header: AdapterHeader = {
    version: 1,
    format: 'sage-adapter',
    settings,
    classNames: [...classNames],
    clip: { source: 'tiny', hiddenSize: d, numLayers: TINY_CLIP_CONFIG.vision.numLayers, imageSize: TINY_CLIP_CONFIG.vision.imageSize, projectionDim: TINY_CLIP_CONFIG.projectionDim },
    parameters: { adapters: 0, classifier: c * d, fitScalars: 0, total: c * d, perBlock: 0, bottleneck: r },
    savedAt: '2026-12-01T10:00:00.000Z',
  };
  return { header: JSON.stringify(header), tensors: writeSafetensors(tensors) };
}
