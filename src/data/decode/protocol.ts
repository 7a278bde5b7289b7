/** Messages between the decode pool and its worker threads. */
import type { TransformRequest } from '../transforms/apply';

export interface DecodeTask {
  id: number;
  /** Encoded image bytes (transferred, not copied). */
  bytes: Uint8Array;
  request: TransformRequest;
  /**
   * The item's slot in its batch: a view of shared memory (a SharedArrayBuffer), so the worker
   * writes the floats where the batch needs them and nothing is allocated, sent back or copied.
   */
  target: Float32Array;
}

/** Tasks travel in groups, one message per group; the worker answers once the whole group is done. */
export type DecodeTaskMessage = DecodeTask[];

export type DecodeResult = { id: number; ok: true } | { id: number; ok: false; message: string };

export type DecodeResultMessage = DecodeResult[];
