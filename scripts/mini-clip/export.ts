/**
 * Writes a trained mini-CLIP as a Hugging Face CLIP folder: config.json (CLIPConfig layout),
 * model.safetensors (HF tensor names and layouts, float32), tokenizer.json and
 * tokenizer_config.json. Every file is a pure function of its inputs (sorted tensor names,
 * fixed JSON key order), so the same weights always give the same bytes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { toHfConfigJson } from '../../src/clip/config';
import { writeSafetensors, type SafetensorsInput } from '../../src/clip/safetensors';
import type { ClipConfig } from '../../src/clip/types';
import { toHfLayout, type ParamSpec } from './params';

export interface MiniClipFolder {
  config: ClipConfig;
  specs: readonly ParamSpec[];
  /** Trainer-layout values by HF name. */
  values: ReadonlyMap<string, Float32Array>;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** Provenance stored in the safetensors metadata (strings only). */
  metadata: Record<string, string>;
}

/** The safetensors table in HF layout. */
export function hfTensors(specs: readonly ParamSpec[], values: ReadonlyMap<string, Float32Array>): Record<string, SafetensorsInput> {
  const tensors: Record<string, SafetensorsInput> = {};
  for (const spec of specs) {
    const value = values.get(spec.name);
    if (!value) throw new RangeError(`mini-CLIP export: no value for tensor "${spec.name}"`);
    tensors[spec.name] = { shape: spec.hfShape, data: toHfLayout(spec, value) };
  }
  return tensors;
}

function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Writes the folder; returns the paths written. */
export async function writeMiniClipFolder(outDir: string, folder: MiniClipFolder): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const logitScale = Math.exp(folder.values.get('logit_scale')?.[0] ?? Math.log(1 / 0.07));
  const files: [string, string | Uint8Array][] = [
    ['config.json', jsonText({ ...toHfConfigJson({ ...folder.config, logitScale }), torch_dtype: 'float32' })],
    ['model.safetensors', writeSafetensors(hfTensors(folder.specs, folder.values), folder.metadata)],
    ['tokenizer.json', jsonText(folder.tokenizerJson)],
    ['tokenizer_config.json', jsonText(folder.tokenizerConfig)],
  ];
  const written: string[] = [];
  for (const [name, body] of files) {
    const file = path.join(outDir, name);
    await writeFile(file, body);
    written.push(file);
  }
  return written;
}
