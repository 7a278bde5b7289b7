/**
 * The header of a saved adapter (`adapter.json`, beside `adapter.safetensors`): what
 * `sage predict` and `sage evaluate` need to rebuild the model on the same CLIP.
 * Versioned; validated on read.
 */
import { z } from 'zod';
import { ParameterReport } from './metrics';
import { Settings } from './settings';

export const ADAPTER_VERSION = 1 as const;

export const AdapterHeader = z.object({
  version: z.literal(ADAPTER_VERSION),
  format: z.literal('sage-adapter'),
  settings: Settings,
  classNames: z.array(z.string()).min(2),
  /**
   * The CLIP the adapter was trained on: its source (folder or s3:// prefix) and shape.
   * patchSize and intermediateSize came later: optional so older headers still read, and
   * compared only when present (ViT-B/16 and ViT-B/32 differ in nothing else listed here).
   */
  clip: z.object({
    source: z.string(),
    hiddenSize: z.number().int().positive(),
    numLayers: z.number().int().positive(),
    imageSize: z.number().int().positive(),
    projectionDim: z.number().int().positive(),
    patchSize: z.number().int().positive().optional(),
    intermediateSize: z.number().int().positive().optional(),
  }),
  parameters: ParameterReport,
  savedAt: z.string(),
});
export type AdapterHeader = z.infer<typeof AdapterHeader>;

/** The shape fields of `AdapterHeader.clip`, each compared with the CLIP an adapter is used on. */
export const ADAPTER_CLIP_SHAPE_FIELDS = ['hiddenSize', 'numLayers', 'imageSize', 'patchSize', 'intermediateSize', 'projectionDim'] as const;
export type AdapterClipShape = Pick<AdapterHeader['clip'], (typeof ADAPTER_CLIP_SHAPE_FIELDS)[number]>;

/** A CLIP config's values for the header's shape fields (structural, so contracts need not import src/clip). */
export function adapterClipShapeOf(config: {
  vision: { hiddenSize: number; numLayers: number; imageSize: number; patchSize: number; intermediateSize: number };
  projectionDim: number;
}): Required<AdapterClipShape> {
  const { hiddenSize, numLayers, imageSize, patchSize, intermediateSize } = config.vision;
  return { hiddenSize, numLayers, imageSize, patchSize, intermediateSize, projectionDim: config.projectionDim };
}

/**
 * Where an adapter's header disagrees with the CLIP given, naming both sides, or undefined
 * when it fits. A field absent from an older header is not compared.
 */
export function adapterClipMismatch(trainedOn: AdapterHeader['clip'], given: Required<AdapterClipShape>, givenWhat: string): string | undefined {
  const differing = ADAPTER_CLIP_SHAPE_FIELDS.filter((key) => trainedOn[key] !== undefined && trainedOn[key] !== given[key]);
  if (differing.length === 0) return undefined;
  const describe = (shape: AdapterClipShape): string => differing.map((key) => `${key} ${shape[key]}`).join(', ');
  return `the adapter was trained on a CLIP with ${describe(trainedOn)} (${trainedOn.source}); ${givenWhat} ${describe(given)}`;
}
