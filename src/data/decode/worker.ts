/**
 * A decode worker: transforms each group of tasks concurrently with sharp, writing the floats
 * straight into each task's slot of the batch's shared memory, and answers once per group with
 * the tasks' ids and outcomes.
 */
import sharp from 'sharp';
import { parentPort } from 'node:worker_threads';
import { transformImage } from '../transforms/apply';
import type { DecodeResult, DecodeResultMessage, DecodeTask, DecodeTaskMessage } from './protocol';

// One libvips thread per worker: the pool parallelises across images, which scales better on a
// few cores than splitting each small image across threads.
sharp.concurrency(1);
// Every image is seen once per epoch: libvips' operation cache only costs memory and time here.
sharp.cache(false);

const port = parentPort;
if (!port) throw new Error('the decode worker must run in a worker thread (no parentPort)');

const transform = async (task: DecodeTask): Promise<DecodeResult> => {
  try {
    await transformImage(task.bytes, task.request, task.target);
    return { id: task.id, ok: true };
  } catch (error) {
    return { id: task.id, ok: false, message: error instanceof Error ? error.message : String(error) };
  }
};

port.on('message', (tasks: DecodeTaskMessage) => {
  void Promise.all(tasks.map(transform)).then((results) => port.postMessage(results satisfies DecodeResultMessage));
});
