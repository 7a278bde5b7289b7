import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import { createAdaptFormer, createSgAdapter, liftBottleneck, perBlockFormula } from '../../src/engine/adapters';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
});

function countCreated(create: () => { variables: readonly { variable: tf.Variable }[] }): number {
  const adapter = create();
  const total = adapter.variables.reduce((a, v) => a + v.variable.size, 0);
  adapter.variables.forEach((v) => v.variable.dispose());
  return total;
}

describe('bottleneck rule', () => {
  it('gives SPEC’s r for CIFAR-100, Places-LT, ImageNet-LT and iNaturalist 2018 on 12 blocks', () => {
    expect([100, 365, 1000, 8142].map((c) => liftBottleneck(c, 12))).toEqual([4, 8, 32, 256]);
    expect(liftBottleneck(3, 12)).toBe(1);
  });
});

describe('learnable-parameter counts', () => {
  it('match SPEC’s ViT-B/16, C = 100 totals: 101,436 for LIFT and 7,299,240 for Sage', () => {
    const r = liftBottleneck(100, 12);
    expect(12 * perBlockFormula('adaptformer', 768, r)).toBe(101_436);
    expect(12 * perBlockFormula('sg', 768, r)).toBe(7_299_240);
  });

  it('count the variables actually created per block, as the formulas say, at ViT-B/16 width', () => {
    const base = { layer: 0, width: 768, bottleneck: 4, scaleInit: 1, seed: 0 };
    expect(countCreated(() => createAdaptFormer(base))).toBe((2 * 4 + 3) * 768 + 4 + 1);
    expect(countCreated(() => createSgAdapter({ ...base, alpha: 0.1, svtInit: 1, projection: true }))).toBe((5 * 4 + 768 + 4) * 768 + 3 * 4 + 2);
    expect(countCreated(() => createSgAdapter({ ...base, alpha: 0.1, svtInit: 1, projection: false }))).toBe((5 * 4 + 3) * 768 + 3 * 4 + 2);
  });

  it('agree with the formulas for other widths and bottlenecks', () => {
    for (const [width, bottleneck] of [[32, 1], [64, 8], [96, 32]] as const) {
      const base = { layer: 3, width, bottleneck, scaleInit: 1, seed: 1 };
      expect(countCreated(() => createAdaptFormer(base))).toBe(perBlockFormula('adaptformer', width, bottleneck));
      expect(countCreated(() => createSgAdapter({ ...base, alpha: 0.5, svtInit: 1, projection: true }))).toBe(perBlockFormula('sg', width, bottleneck));
      expect(countCreated(() => createSgAdapter({ ...base, alpha: 0.5, svtInit: 1, projection: false }))).toBe(perBlockFormula('sg-no-proj', width, bottleneck));
    }
  });
});
