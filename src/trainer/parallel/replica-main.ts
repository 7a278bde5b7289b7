/**
 * The module a helper replica runs (through replica-entry.mjs): in a worker thread it talks over
 * parentPort, in a child process over the IPC channel. A child process ignores SIGINT and SIGTERM
 * (the trainer decides when to stop: it finishes the step, checkpoints and closes its replicas)
 * and exits when the trainer's channel closes, so it never outlives the trainer.
 */
import { parentPort } from 'node:worker_threads';
import type { ReplicaReply, ReplicaRequest } from './protocol';
import { replicaHandler } from './replica';

if (parentPort) {
  const port = parentPort;
  const handle = replicaHandler(
    (reply, transfer) => port.postMessage(reply, transfer),
    (code) => process.exit(code),
  );
  port.on('message', (request: ReplicaRequest) => handle(request));
} else if (process.send) {
  const send = process.send.bind(process);
  const handle = replicaHandler(
    (reply: ReplicaReply) => void send(reply),
    (code) => process.exit(code),
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => {});
  process.on('message', (request: ReplicaRequest) => handle(request));
  process.on('disconnect', () => process.exit(0));
} else {
  throw new Error('a replica runs in a worker thread or a child process with an IPC channel; this is neither');
}
