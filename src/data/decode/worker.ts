/**
 * A decode worker: transforms each task's image with sharp and sends back the floats
 * (transferred). Each worker handles a few tasks at once so libvips keeps its thread busy while
 * the next image's bytes arrive.
 */
import sharp from 'sharp';
import { parentPort } from 'node:worker_threads';
import { transformImage } from '../transforms/apply';
import type { DecodeResult, DecodeTask } from './protocol';

// One libvips thread per worker: the pool parallelises across images, which scales better on a
// few cores than splitting each small image across threads.
sharp.concurrency(1);
// Every image is seen once per epoch: libvips' operation cache only costs memory and time here.
sharp.cache(false);

const port = parentPort;
if (!port) throw new Error('the decode worker must run in a worker thread (no parentPort)');

port.on('message', (task: DecodeTask) => {
  transformImage(task.bytes, task.request).then(
    (pixels) => {
      const result: DecodeResult = { id: task.id, ok: true, pixels };
      port.postMessage(result, [pixels.buffer as ArrayBuffer]);
    },
    (error: unknown) => {
      const result: DecodeResult = { id: task.id, ok: false, message: error instanceof Error ? error.message : String(error) };
      port.postMessage(result);
    },
  );
});
