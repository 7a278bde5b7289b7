import { describe, expect, it } from 'vitest';
import { applyDomain, DOMAIN_NAMES, isDomainName } from '../../src/procedural/domain';
import { renderClassImage, STREAM } from '../../src/procedural/samples';

describe('photographic domains', () => {
  it('leaves pretraining images as they are', () => {
    const pixels = Uint8Array.from([0, 128, 255, 7, 8, 9]);
    expect(applyDomain(pixels, 'pretraining')).toEqual(pixels);
  });

  it('applies the tungsten cast per channel, rounded and clamped to 0-255 (hand-computed)', () => {
    // gain (1, 0.75, 0.55), offset (+10, 0, 0)
    const pixels = Uint8Array.from([0, 0, 0, 100, 100, 100, 250, 255, 255, 245, 2, 1]);
    expect(Array.from(applyDomain(pixels, 'tungsten'))).toEqual([
      10, 0, 0, // black gets a red lift
      110, 75, 55, // 100·0.75 = 75, 100·0.55 = 55
      255, 191, 140, // 260 clamps to 255; 191.25 → 191; 140.25 → 140
      255, 2, 1, // 255 exactly; 1.5 → 2 (round half up); 0.55 → 1
    ]);
  });

  it('changes the colours, not the scene: the same draw under both domains', () => {
    const plain = renderClassImage(5, 2, 12, 3, STREAM.datasetTest);
    const warm = renderClassImage(5, 2, 12, 3, STREAM.datasetTest, 'tungsten');
    expect(warm).toEqual(applyDomain(plain, 'tungsten'));
    // Warmer on average: blue drops by about 45 %, red does not drop.
    const mean = (image: Uint8Array, channel: number): number => image.filter((_, i) => i % 3 === channel).reduce((a, b) => a + b, 0) / (image.length / 3);
    expect(mean(warm, 0)).toBeGreaterThanOrEqual(mean(plain, 0));
    expect(mean(warm, 2)).toBeLessThan(0.6 * mean(plain, 2) + 1);
  });

  it('names its domains', () => {
    expect(DOMAIN_NAMES).toEqual(['pretraining', 'tungsten']);
    expect(isDomainName('tungsten')).toBe(true);
    expect(isDomainName('toString')).toBe(false);
  });
});
