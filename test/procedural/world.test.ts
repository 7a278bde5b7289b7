import { describe, expect, it } from 'vitest';
import { captionFor, describeSpec, fillFrame, WORLD_CAPTION_FRAMES } from '../../src/procedural/captions';
import { createRng } from '../../src/common/random';
import { CLASS_NAMES, COLOUR_NAMES, RADIUS_RANGE, sampleShapeSpec, SHAPES, WORLD_CLASSES } from '../../src/procedural/world';

describe('the procedural world', () => {
  it('has one class per (colour, shape) pair, each named "<colour> <shape>"', () => {
    expect(WORLD_CLASSES).toHaveLength(SHAPES.length * COLOUR_NAMES.length);
    const pairs = new Set(WORLD_CLASSES.map((c) => `${c.colour}/${c.shape}`));
    expect(pairs.size).toBe(WORLD_CLASSES.length);
    for (const c of WORLD_CLASSES) expect(c.name).toBe(`${c.colour} ${c.shape}`);
    expect(new Set(CLASS_NAMES).size).toBe(CLASS_NAMES.length);
  });

  it('mixes all shapes and all colours in every run of six consecutive classes', () => {
    for (let start = 0; start + 6 <= WORLD_CLASSES.length; start += 6) {
      const run = WORLD_CLASSES.slice(start, start + 6);
      expect(new Set(run.map((c) => c.shape)).size).toBe(6);
      expect(new Set(run.map((c) => c.colour)).size).toBe(6);
    }
  });

  it('samples specs of the requested class with the whole shape inside the frame', () => {
    const rng = createRng(5);
    const problems: string[] = [];
    for (let i = 0; i < 500; i++) {
      const classIndex = i % WORLD_CLASSES.length;
      const spec = sampleShapeSpec(classIndex, rng);
      const inside = spec.cx - spec.radius > 0 && spec.cx + spec.radius < 1 && spec.cy - spec.radius > 0 && spec.cy + spec.radius < 1;
      const inRange = spec.radius >= RADIUS_RANGE[0] && spec.radius < RADIUS_RANGE[1];
      const sameClass = spec.shape === WORLD_CLASSES[classIndex]?.shape && spec.colour === WORLD_CLASSES[classIndex]?.colour;
      if (!inside || !inRange || !sameClass) problems.push(`${i}: ${JSON.stringify(spec)}`);
    }
    expect(problems).toEqual([]);
  });

  it('rejects a class index outside the world', () => {
    expect(() => sampleShapeSpec(WORLD_CLASSES.length, createRng(0))).toThrow(/class index in \[0, 36\)/);
  });
});

describe('captions', () => {
  it('always name the class colour and shape next to each other, and the nuisances only when true', () => {
    const rng = createRng(9);
    for (let i = 0; i < 300; i++) {
      const spec = sampleShapeSpec(i % WORLD_CLASSES.length, rng);
      const phrase = describeSpec(spec, rng);
      expect(phrase).toContain(`${spec.colour} ${spec.shape}`);
      for (const texture of ['striped', 'dotted', 'checkered']) {
        if (phrase.includes(texture)) expect(spec.texture).toBe(texture);
      }
      if (phrase.includes('background')) expect(phrase).toContain(`on a ${spec.background} background`);
      if (phrase.startsWith('small')) expect(spec.radius).toBeLessThan(0.27);
      if (phrase.startsWith('large')) expect(spec.radius).toBeGreaterThan(0.35);
    }
  });

  it('sometimes mention nuisance factors and sometimes only the class', () => {
    const rng = createRng(2);
    const phrases = Array.from({ length: 200 }, (_, i) => describeSpec(sampleShapeSpec(i % 36, rng), rng));
    expect(phrases.some((p) => p.split(' ').length === 2)).toBe(true);
    expect(phrases.some((p) => p.includes('background'))).toBe(true);
    expect(phrases.some((p) => /striped|dotted|checkered/.test(p))).toBe(true);
  });

  it('fill a frame\'s placeholder and refuse a frame without one', () => {
    expect(fillFrame('a photo of a [cls].', 'red circle')).toBe('a photo of a red circle.');
    expect(() => fillFrame('a photo.', 'red circle')).toThrow(/no \[cls\] placeholder/);
    const caption = captionFor(sampleShapeSpec(0, createRng(1)), createRng(1), WORLD_CAPTION_FRAMES);
    expect(caption).toMatch(/red circle/);
  });
});
