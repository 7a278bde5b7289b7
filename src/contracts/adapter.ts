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
  /** The CLIP the adapter was trained on: its source (folder or s3:// prefix) and shape. */
  clip: z.object({
    source: z.string(),
    hiddenSize: z.number().int().positive(),
    numLayers: z.number().int().positive(),
    imageSize: z.number().int().positive(),
    projectionDim: z.number().int().positive(),
  }),
  parameters: ParameterReport,
  savedAt: z.string(),
});
export type AdapterHeader = z.infer<typeof AdapterHeader>;
