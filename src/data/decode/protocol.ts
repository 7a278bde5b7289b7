/** Messages between the decode pool and its worker threads. */
import type { TransformRequest } from '../transforms/apply';

export interface DecodeTask {
  id: number;
  /** Encoded image bytes (transferred, not copied). */
  bytes: Uint8Array;
  request: TransformRequest;
}

export type DecodeResult =
  | { id: number; ok: true; pixels: Float32Array }
  | { id: number; ok: false; message: string };
