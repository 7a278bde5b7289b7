import { describe, expect, it } from 'vitest';
import { insideShape, renderImage } from '../../src/procedural/render';
import { createRng } from '../../src/common/random';
import { renderBalancedSet, renderClassImage, STREAM, toClipPixels } from '../../src/procedural/samples';
import type { ShapeSpec } from '../../src/procedural/world';

function plainSpec(overrides: Partial<ShapeSpec> = {}): ShapeSpec {
  return {
    classIndex: 0,
    shape: 'circle',
    colour: 'red',
    rgb: [0.8, 0.2, 0.1],
    texture: 'plain',
    texturePeriod: 0.5,
    textureAngle: 0,
    background: 'dark',
    backgroundTop: [0.1, 0.1, 0.1],
    backgroundBottom: [0.1, 0.1, 0.1],
    cx: 0.5,
    cy: 0.5,
    radius: 0.3,
    rotation: 0,
    noise: 0,
    ...overrides,
  };
}

describe('shape membership in the unit frame', () => {
  it('matches the geometry of each shape at hand-picked points', () => {
    const cases: [Parameters<typeof insideShape>[0], number, number, boolean][] = [
      ['circle', 0, 0, true],
      ['circle', 0.89, 0, true],
      ['circle', 0.91, 0, false],
      ['square', 0.7, 0.7, true],
      ['square', 0.75, 0, false],
      ['triangle', 0, -0.9, true], // near the top vertex (0, -1)
      ['triangle', 0, 0.4, true],
      ['triangle', 0, 0.6, false], // below the base at y = 0.5
      ['triangle', 0.8, -0.5, false],
      ['star', 0, -0.95, true], // inside the top point
      ['star', 0.6 * Math.cos((-54 * Math.PI) / 180), 0.6 * Math.sin((-54 * Math.PI) / 180), false], // between two points
      ['star', 0, 0, true],
      ['cross', 0.9, 0, true],
      ['cross', 0.9, 0.5, false],
      ['cross', 0, -0.9, true],
      ['crescent', 0, 0, false], // cut away by the offset circle
      ['crescent', -0.9, 0, true],
      ['crescent', 1.1, 0, false],
    ];
    for (const [shape, u, v, inside] of cases) expect([shape, u, v, insideShape(shape, u, v)]).toEqual([shape, u, v, inside]);
  });
});

describe('renderImage', () => {
  it('paints the object colour at the centre and the background in the corners', () => {
    const size = 32;
    const pixels = renderImage(plainSpec(), size, createRng(0));
    expect(pixels).toHaveLength(size * size * 3);
    const at = (x: number, y: number): number[] => Array.from(pixels.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
    expect(at(16, 16)).toEqual([204, 51, 26]); // round(0.8·255), round(0.2·255), round(0.1·255)
    expect(at(0, 0)).toEqual([26, 26, 26]);
    expect(at(31, 31)).toEqual([26, 26, 26]);
  });

  it('covers the area of the shape, anti-aliased edges included', () => {
    const size = 32;
    const pixels = renderImage(plainSpec({ radius: 0.35 }), size, createRng(0));
    // Coverage per pixel from the red channel: (value - background) / (object - background).
    let area = 0;
    for (let i = 0; i < size * size; i++) area += ((pixels[i * 3] as number) - 25.5) / (204 - 25.5);
    const expected = Math.PI * (0.9 * 0.35 * size) ** 2; // circle of radius 0.9 in the unit frame
    expect(Math.abs(area - expected) / expected).toBeLessThan(0.03);
  });

  it('gives the same image for a square turned by a quarter turn about the image centre', () => {
    const size = 32;
    const upright = renderImage(plainSpec({ shape: 'square', rotation: 0.3 }), size, createRng(0));
    const turned = renderImage(plainSpec({ shape: 'square', rotation: 0.3 + Math.PI / 2 }), size, createRng(0));
    let maxDifference = 0;
    for (let i = 0; i < upright.length; i++) maxDifference = Math.max(maxDifference, Math.abs((upright[i] as number) - (turned[i] as number)));
    expect(maxDifference).toBeLessThanOrEqual(1);
    expect(upright).not.toEqual(renderImage(plainSpec({ shape: 'square', rotation: 0.3 + Math.PI / 4 }), size, createRng(0)));
  });

  it('draws stripes as two brightness levels of the object colour', () => {
    const size = 48;
    const pixels = renderImage(plainSpec({ texture: 'striped', radius: 0.4, texturePeriod: 0.3 }), size, createRng(0));
    const reds = new Set<number>();
    // The centre rows lie well inside the circle: only the two stripe shades appear there.
    for (let x = 16; x < 32; x++) reds.add(pixels[(24 * size + x) * 3] as number);
    expect([...reds].sort((a, b) => a - b)).toEqual([112, 204]); // round(0.8·0.55·255), round(0.8·255)
  });

  it('is deterministic for a seed and adds seed-dependent noise', () => {
    const spec = plainSpec({ noise: 0.03 });
    expect(renderImage(spec, 16, createRng(4))).toEqual(renderImage(spec, 16, createRng(4)));
    expect(renderImage(spec, 16, createRng(4))).not.toEqual(renderImage(spec, 16, createRng(5)));
  });

  it('refuses a size that is not an integer of at least 4', () => {
    expect(() => renderImage(plainSpec(), 2.5, createRng(0))).toThrow(/integer size >= 4/);
  });
});

describe('labelled image sets', () => {
  it('normalise pixels with CLIP\'s mean and standard deviation, channel by channel', () => {
    const image = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => (i * 20) % 256);
    const out = toClipPixels([image], 2);
    const mean = [0.48145466, 0.4578275, 0.40821073];
    const std = [0.26862954, 0.26130258, 0.27577711];
    image.forEach((value, i) => expect(out[i]).toBeCloseTo((value / 255 - (mean[i % 3] as number)) / (std[i % 3] as number), 5));
    expect(() => toClipPixels([image], 3)).toThrow(/expected 27 bytes per 3×3 RGB image, image 0 has 12/);
  });

  it('render each (class, index) image the same way alone or inside a set', () => {
    const set = renderBalancedSet(2, 12, 9, STREAM.heldOut);
    expect(set.images).toHaveLength(72);
    expect(set.labels.slice(0, 4)).toEqual([0, 0, 1, 1]);
    expect(set.images[3]).toEqual(renderClassImage(1, 1, 12, 9, STREAM.heldOut));
    expect(renderClassImage(1, 1, 12, 9, STREAM.datasetTest)).not.toEqual(set.images[3]);
  });
});
