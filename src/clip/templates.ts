/**
 * Prompt templates for the text-initialised classifier. `[cls]` is the class-name
 * placeholder. The 60 templates are the list in Appendix F of the Sage paper (Peng,
 * Zhang, Cheung), in its order; the single template is LIFT's default, used when Init is off.
 */

export const CLASS_PLACEHOLDER = '[cls]';

/** Appendix F: the 60 templates averaged by the classifier init. */
export const ENSEMBLE_TEMPLATES: readonly string[] = [
  'a photo of a [cls].',
  'a bad photo of a [cls].',
  'a photo of many [cls].',
  'a sculpture of a [cls].',
  'a photo of the hard to see [cls].',
  'a low resolution photo of the [cls].',
  'a rendering of a [cls].',
  'graffiti of a [cls].',
  'a bad photo of the [cls].',
  'a cropped photo of the [cls].',
  'a tattoo of a [cls].',
  'the embroidered [cls].',
  'a photo of a hard to see [cls].',
  'a bright photo of a [cls].',
  'a photo of a clean [cls].',
  'a photo of a dirty [cls].',
  'a dark photo of the [cls].',
  'a drawing of a [cls].',
  'a photo of my [cls].',
  'the plastic [cls].',
  'a photo of the cool [cls].',
  'a close-up photo of a [cls].',
  'a black and white photo of the [cls].',
  'a painting of the [cls].',
  'a painting of a [cls].',
  'a pixelated photo of the [cls].',
  'a sculpture of the [cls].',
  'a bright photo of the [cls].',
  'a cropped photo of a [cls].',
  'a plastic [cls].',
  'a photo of the dirty [cls].',
  'a jpeg corrupted photo of a [cls].',
  'a blurry photo of the [cls].',
  'a photo of the [cls].',
  'a good photo of the [cls].',
  'a rendering of the [cls].',
  'a [cls] in a video game.',
  'a photo of one [cls].',
  'a doodle of a [cls].',
  'a close-up photo of the [cls].',
  'the origami [cls].',
  'the [cls] in a video game.',
  'a sketch of a [cls].',
  'a doodle of the [cls].',
  'an origami [cls].',
  'a low resolution photo of a [cls].',
  'the toy [cls].',
  'a rendition of the [cls].',
  'a photo of the clean [cls].',
  'a photo of a large [cls].',
  'a rendition of a [cls].',
  'a photo of a nice [cls].',
  'a photo of a weird [cls].',
  'a blurry photo of a [cls].',
  'a cartoon [cls].',
  'art of a [cls].',
  'a sketch of the [cls].',
  'an embroidered [cls].',
  'a pixelated photo of a [cls].',
  'itap of the [cls].',
];

/** The one template used without Init. */
export const SINGLE_TEMPLATE = 'a photo of a [cls].';

export type TemplateMode = 'ensemble60' | 'single';

export function templatesFor(mode: TemplateMode): readonly string[] {
  return mode === 'ensemble60' ? ENSEMBLE_TEMPLATES : [SINGLE_TEMPLATE];
}

/** Fills a template: `[cls]` → the class name with underscores turned into spaces. */
export function fillTemplate(template: string, className: string): string {
  return template.split(CLASS_PLACEHOLDER).join(className.replace(/_/g, ' '));
}
