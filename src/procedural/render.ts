/**
 * Pure-TypeScript rasteriser for the procedural world: no canvas, no sharp, so rendering is
 * fast, identical on every machine, and usable inside the trainer's batch loop. Edges are
 * anti-aliased by supersampling; texture and pixel noise are evaluated per pixel.
 */
import type { Rng } from '../common/random';
import type { ShapeName, ShapeSpec } from './world';

type Point = readonly [number, number];

/** A polygon as flat `[x0, y0, x1, y1, ...]` (a typed array keeps the inner loop fast). */
function flatten(points: readonly Point[]): Float64Array {
  return Float64Array.from(points.flat());
}

/** Polygon outlines in the shape's unit frame (bounding circle of radius 1). */
function regularStar(points: number, outer: number, inner: number): Point[] {
  const vertices: Point[] = [];
  for (let k = 0; k < points * 2; k++) {
    const angle = -Math.PI / 2 + (k * Math.PI) / points;
    const r = k % 2 === 0 ? outer : inner;
    vertices.push([r * Math.cos(angle), r * Math.sin(angle)]);
  }
  return vertices;
}

const arm = 0.32;
const POLYGONS: Partial<Record<ShapeName, Float64Array>> = {
  triangle: flatten(
    [0, 1, 2].map((k) => {
      const angle = -Math.PI / 2 + (k * 2 * Math.PI) / 3;
      return [Math.cos(angle), Math.sin(angle)] as Point;
    }),
  ),
  star: flatten(regularStar(5, 1, 0.45)),
  cross: flatten([
    [-arm, -0.95], [arm, -0.95], [arm, -arm], [0.95, -arm], [0.95, arm], [arm, arm],
    [arm, 0.95], [-arm, 0.95], [-arm, arm], [-0.95, arm], [-0.95, -arm], [-arm, -arm],
  ]),
};

/** Even-odd ray casting over a flat polygon. */
function insidePolygon(u: number, v: number, polygon: Float64Array): boolean {
  let inside = false;
  const n = polygon.length;
  for (let i = 0, j = n - 2; i < n; j = i, i += 2) {
    const xi = polygon[i] as number;
    const yi = polygon[i + 1] as number;
    const xj = polygon[j] as number;
    const yj = polygon[j + 1] as number;
    if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether the point (u, v) of the shape's unit frame is inside the shape. */
export function insideShape(shape: ShapeName, u: number, v: number): boolean {
  switch (shape) {
    case 'circle':
      return u * u + v * v <= 0.9 * 0.9;
    case 'square':
      return Math.abs(u) <= 0.72 && Math.abs(v) <= 0.72;
    case 'crescent': {
      const dx = u - 0.45;
      return u * u + v * v <= 1 && dx * dx + v * v > 0.8 * 0.8;
    }
    default:
      return insidePolygon(u, v, POLYGONS[shape] as Float64Array);
  }
}

/** Texture brightness factor at the unit-frame point: 1 on the light parts, darker elsewhere. */
function textureFactor(spec: ShapeSpec, u: number, v: number): number {
  if (spec.texture === 'plain') return 1;
  const cos = Math.cos(spec.textureAngle);
  const sin = Math.sin(spec.textureAngle);
  const a = (u * cos - v * sin) / spec.texturePeriod;
  const b = (u * sin + v * cos) / spec.texturePeriod;
  const dark = 0.55;
  switch (spec.texture) {
    case 'striped':
      return Math.floor(a) % 2 === 0 ? 1 : dark;
    case 'checkered':
      return (Math.floor(a) + Math.floor(b)) % 2 === 0 ? 1 : dark;
    case 'dotted': {
      const fa = a - Math.round(a);
      const fb = b - Math.round(b);
      return fa * fa + fb * fb < 0.3 * 0.3 ? dark : 1;
    }
  }
}

export interface RenderOptions {
  /** Samples per pixel side for anti-aliasing (default 3, i.e. 9 samples a pixel). */
  supersample?: number;
}

/**
 * Renders `spec` as a `size`×`size` RGB image, HWC, 0-255. `rng` draws only the pixel noise,
 * so the same spec with the same rng state gives the same bytes.
 */
export function renderImage(spec: ShapeSpec, size: number, rng: Rng, options: RenderOptions = {}): Uint8Array {
  if (!Number.isInteger(size) || size < 4) throw new RangeError(`renderImage expected an integer size >= 4, got ${size}`);
  const k = options.supersample ?? 3;
  const out = new Uint8Array(size * size * 3);
  const cos = Math.cos(spec.rotation);
  const sin = Math.sin(spec.rotation);
  const toUnit = 1 / (spec.radius * size);
  const centreX = spec.cx * size;
  const centreY = spec.cy * size;
  // Every shape lies inside its unit bounding circle: pixels farther than that (plus the pixel
  // diagonal) are pure background and skip the supersampling.
  const reach = spec.radius * size + Math.SQRT2;
  const [topR, topG, topB] = spec.backgroundTop;
  const [bottomR, bottomG, bottomB] = spec.backgroundBottom;
  const [objectR, objectG, objectB] = spec.rgb;
  for (let y = 0; y < size; y++) {
    const t = (y + 0.5) / size;
    const bgR = topR * (1 - t) + bottomR * t;
    const bgG = topG * (1 - t) + bottomG * t;
    const bgB = topB * (1 - t) + bottomB * t;
    for (let x = 0; x < size; x++) {
      const pcx = x + 0.5 - centreX;
      const pcy = y + 0.5 - centreY;
      let alpha = 0;
      let shade = 1;
      if (pcx * pcx + pcy * pcy <= reach * reach) {
        let covered = 0;
        for (let sy = 0; sy < k; sy++) {
          for (let sx = 0; sx < k; sx++) {
            const px = x + (sx + 0.5) / k - centreX;
            const py = y + (sy + 0.5) / k - centreY;
            // Image frame → shape frame: undo the rotation, scale to the unit radius.
            if (insideShape(spec.shape, (px * cos + py * sin) * toUnit, (-px * sin + py * cos) * toUnit)) covered++;
          }
        }
        alpha = covered / (k * k);
        if (alpha > 0) shade = textureFactor(spec, (pcx * cos + pcy * sin) * toUnit, (-pcx * sin + pcy * cos) * toUnit);
      }
      const offset = (y * size + x) * 3;
      out[offset] = toByte(bgR * (1 - alpha) + objectR * shade * alpha + spec.noise * rng.normal());
      out[offset + 1] = toByte(bgG * (1 - alpha) + objectG * shade * alpha + spec.noise * rng.normal());
      out[offset + 2] = toByte(bgB * (1 - alpha) + objectB * shade * alpha + spec.noise * rng.normal());
    }
  }
  return out;
}

function toByte(value: number): number {
  const scaled = Math.round(value * 255);
  return scaled < 0 ? 0 : scaled > 255 ? 255 : scaled;
}
