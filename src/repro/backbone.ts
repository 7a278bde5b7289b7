/**
 * Whether a manifest's CLIP weights are the paper's backbone, ViT-B/16 at 224 px (section
 * 4.2), read from the weights' config.json. Only `sage repro` uses this (the report sees no
 * weights), to mark a sweep on other weights (the mini-CLIP) as a toy.
 */
import { parseClipConfig, type ClipConfig } from '../clip/config';
import { joinUri, storeFor } from '../storage';

/** The verdict, with the parsed config when it could be read (the estimate counts FLOPs from it). */
export type BackboneCheck = { kind: 'vit-b/16'; config: ClipConfig } | { kind: 'other'; reason: string; config: ClipConfig } | { kind: 'unreadable'; reason: string };

const VIT_B_16 = { hiddenSize: 768, numLayers: 12, patchSize: 16, imageSize: 224 };

export async function checkBackbone(weightsUri: string): Promise<BackboneCheck> {
  const configUri = joinUri(weightsUri, 'config.json');
  let text: string;
  try {
    text = await (await storeFor(configUri)).getText(configUri);
  } catch (error) {
    return { kind: 'unreadable', reason: `cannot read ${configUri}: ${error instanceof Error ? error.message : String(error)}` };
  }
  let config: ClipConfig;
  try {
    config = parseClipConfig(text, configUri);
  } catch (error) {
    return { kind: 'unreadable', reason: error instanceof Error ? error.message : String(error) };
  }
  const { vision } = config;
  const same = (Object.keys(VIT_B_16) as (keyof typeof VIT_B_16)[]).every((key) => vision[key] === VIT_B_16[key]);
  if (same) return { kind: 'vit-b/16', config };
  return {
    kind: 'other',
    config,
    reason: `the CLIP weights are not ViT-B/16 (width ${vision.hiddenSize}, ${vision.numLayers} blocks, patch ${vision.patchSize}, ${vision.imageSize} px)`,
  };
}
