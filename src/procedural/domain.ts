/**
 * Photographic domains of the procedural world. `pretraining` is how the mini-CLIP's own
 * training images look; `tungsten` is the same world under a warm colour cast (incandescent
 * light, or a camera's white balance set for daylight), which the mini-CLIP never saw.
 *
 * Why a second domain exists: on its own domain the mini-CLIP's zero-shot classifier is, in
 * effect, a supervised classifier trained on its 32,000 captioned pretraining images, which
 * name every class exactly; a linear probe on its frozen features does little better (32.5 % vs
 * 30.3 % zero-shot on 36 classes, 3,600 balanced training images; scripts/domain-gap.ts), so a
 * few-epoch fine-tune on a small long-tailed set cannot beat it there. Real long-tailed datasets
 * differ from CLIP's web images, and that gap is what LIFT and Sage close; `tungsten` reproduces
 * such a gap (docs/procedural.md).
 */

/** A per-channel affine map of 0-255 RGB values: `clamp(round(gain · v + offset))`. */
export interface ColourCast {
  gain: readonly [number, number, number];
  offset: readonly [number, number, number];
}

export const DOMAINS = {
  pretraining: null,
  tungsten: { gain: [1, 0.75, 0.55], offset: [10, 0, 0] },
} as const satisfies Record<string, ColourCast | null>;

export type DomainName = keyof typeof DOMAINS;
export const DOMAIN_NAMES = Object.keys(DOMAINS) as DomainName[];

export function isDomainName(value: string): value is DomainName {
  return Object.hasOwn(DOMAINS, value);
}

/** The image as seen in `domain` (HWC RGB 0-255); the input itself for `pretraining`. */
export function applyDomain(pixels: Uint8Array, domain: DomainName): Uint8Array {
  const cast: ColourCast | null = DOMAINS[domain];
  if (!cast) return pixels;
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const c = i % 3;
    // Uint8Array assignment would wrap, not clamp: clamp explicitly.
    out[i] = Math.min(255, Math.max(0, Math.round((pixels[i] as number) * cast.gain[c]! + cast.offset[c]!)));
  }
  return out;
}
