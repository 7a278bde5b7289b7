// Entry of a decode worker thread. When the pool runs from TypeScript sources (tsx, vitest) the
// worker starts as plain Node, so it registers tsx's loader before importing the TypeScript worker.
import { workerData } from 'node:worker_threads';

if (workerData.registerTsx) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.module);
