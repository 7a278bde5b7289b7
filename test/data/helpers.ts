/** Shared test fixtures for the data tests: temporary folders and small images with known pixels. */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `sage-data-${prefix}-`));
}

/** The colour that identifies image `id`: three distinct bytes, so a mixed-up label shows. */
export function colourOf(id: number): [number, number, number] {
  return [(id * 37) % 256, (id * 91 + 40) % 256, (id * 53 + 90) % 256];
}

/** A lossless single-colour image. */
export async function solidPng(colour: readonly [number, number, number], width = 20, height = 16): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } }).png().toBuffer();
}

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** CLIP normalisation by hand. */
export function normalised(value: number, channel: number): number {
  return (value / 255 - CLIP_MEAN[channel]!) / CLIP_STD[channel]!;
}
