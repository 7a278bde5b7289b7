// Entry of a helper replica (a worker thread or a child process). Run from TypeScript sources
// (tsx, vitest), it starts as plain Node, so it registers tsx's loader before importing the
// TypeScript module; the container's bundle passes the bundled module instead.
import { workerData } from 'node:worker_threads';

const launch = workerData ?? JSON.parse(process.env.SAGE_REPLICA_LAUNCH ?? 'null');
if (!launch) throw new Error('a replica must be started by the trainer (no workerData and no SAGE_REPLICA_LAUNCH)');
if (launch.registerTsx) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(launch.module);
