/**
 * The procedural world: coloured shapes with nuisance factors. A class is a (colour, shape)
 * pair ("red circle"); texture, background, size, position and rotation vary freely and
 * never change the class, so a model has to learn colour and shape and ignore the rest.
 */
import type { Rng } from '../common/random';

export const SHAPES = ['circle', 'square', 'triangle', 'star', 'cross', 'crescent'] as const;
export type ShapeName = (typeof SHAPES)[number];

/** Class colours as 0-255 RGB. Saturated and far apart in hue so jitter never crosses classes. */
export const COLOURS = {
  red: [215, 35, 35],
  green: [40, 165, 55],
  blue: [40, 80, 225],
  yellow: [235, 210, 35],
  purple: [140, 55, 190],
  orange: [245, 130, 25],
} as const satisfies Record<string, readonly [number, number, number]>;
export type ColourName = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as ColourName[];

export const TEXTURES = ['plain', 'striped', 'dotted', 'checkered'] as const;
export type TextureName = (typeof TEXTURES)[number];

/** Background tones (grey levels 0-255): low saturation so they never look like a class colour. */
export const BACKGROUNDS = { dark: [25, 60], grey: [105, 150], light: [195, 240] } as const satisfies Record<
  string,
  readonly [number, number]
>;
export type BackgroundName = keyof typeof BACKGROUNDS;
export const BACKGROUND_NAMES = Object.keys(BACKGROUNDS) as BackgroundName[];

export interface WorldClass {
  index: number;
  /** "red circle": the class name used in captions and prompts. */
  name: string;
  colour: ColourName;
  shape: ShapeName;
}

/**
 * Class i has shape `i mod 6` and colour `(i mod 6 + floor(i / 6)) mod 6`: every run of six
 * consecutive classes has six different shapes and six different colours, so the head and the
 * tail of a long-tailed split each mix all shapes and colours.
 */
export const WORLD_CLASSES: readonly WorldClass[] = Array.from({ length: SHAPES.length * COLOUR_NAMES.length }, (_, index) => {
  const shape = SHAPES[index % SHAPES.length] as ShapeName;
  const colour = COLOUR_NAMES[(index % SHAPES.length + Math.floor(index / SHAPES.length)) % COLOUR_NAMES.length] as ColourName;
  return { index, name: `${colour} ${shape}`, colour, shape };
});

export const CLASS_NAMES: readonly string[] = WORLD_CLASSES.map((c) => c.name);

/** Everything that decides one image except the pixel noise. Geometry is relative to the image side. */
export interface ShapeSpec {
  classIndex: number;
  shape: ShapeName;
  colour: ColourName;
  /** Object colour after jitter, 0-1 RGB. */
  rgb: [number, number, number];
  texture: TextureName;
  /** Stripe/dot/checker period as a fraction of the object radius. */
  texturePeriod: number;
  /** Texture orientation in radians (relative to the object). */
  textureAngle: number;
  background: BackgroundName;
  /** Background colour at the top and bottom (a vertical gradient), 0-1 RGB. */
  backgroundTop: [number, number, number];
  backgroundBottom: [number, number, number];
  /** Centre in [0, 1] image coordinates. */
  cx: number;
  cy: number;
  /** Radius of the shape's bounding circle as a fraction of the image side. */
  radius: number;
  rotation: number;
  /** Standard deviation of the per-pixel Gaussian noise (0-1 scale). */
  noise: number;
}

export const RADIUS_RANGE = [0.22, 0.4] as const;
/** Radii below / above these are called "small" / "large" in captions. */
export const SMALL_BELOW = 0.27;
export const LARGE_ABOVE = 0.35;

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

function jitterColour(base: readonly [number, number, number], rng: Rng): [number, number, number] {
  const brightness = rng.uniform(0.85, 1.1);
  return base.map((c) => clamp01((c * brightness + rng.uniform(-18, 18)) / 255)) as [number, number, number];
}

function backgroundColour(background: BackgroundName, rng: Rng): [number, number, number] {
  const [lo, hi] = BACKGROUNDS[background];
  const grey = rng.uniform(lo, hi);
  return [0, 1, 2].map(() => clamp01((grey + rng.uniform(-14, 14)) / 255)) as [number, number, number];
}

/** Draws the nuisance factors for one image of class `classIndex`. */
export function sampleShapeSpec(classIndex: number, rng: Rng): ShapeSpec {
  const worldClass = WORLD_CLASSES[classIndex];
  if (!worldClass) {
    throw new RangeError(`sampleShapeSpec expected a class index in [0, ${WORLD_CLASSES.length}), got ${classIndex}`);
  }
  const radius = rng.uniform(RADIUS_RANGE[0], RADIUS_RANGE[1]);
  // Keep the whole shape inside the frame with a small margin, and near the centre so a
  // centre crop never cuts much of it off.
  const slack = Math.min(0.5 - radius - 0.04, 0.14);
  const background = rng.pick(BACKGROUND_NAMES);
  const top = backgroundColour(background, rng);
  return {
    classIndex,
    shape: worldClass.shape,
    colour: worldClass.colour,
    rgb: jitterColour(COLOURS[worldClass.colour], rng),
    texture: rng.pick(TEXTURES),
    texturePeriod: rng.uniform(0.35, 0.6),
    textureAngle: rng.uniform(0, Math.PI),
    background,
    backgroundTop: top,
    backgroundBottom: top.map((c) => clamp01(c + rng.uniform(-0.08, 0.08))) as [number, number, number],
    cx: 0.5 + rng.uniform(-slack, slack),
    cy: 0.5 + rng.uniform(-slack, slack),
    radius,
    rotation: rng.uniform(0, 2 * Math.PI),
    noise: rng.uniform(0.01, 0.04),
  };
}
