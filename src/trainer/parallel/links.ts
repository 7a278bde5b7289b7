/**
 * The trainer's end of one helper replica: a worker thread or a child process behind the same
 * small interface (post a request, hear replies, hear that it died). A child process gets its own
 * environment, so one GPU each (`CUDA_VISIBLE_DEVICES`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ReplicaReply, ReplicaRequest, ReplicaTransport } from './protocol';

export interface ReplicaLink {
  readonly transport: ReplicaTransport;
  /** Whether shared memory reaches the helper (threads) or everything must travel in messages (processes). */
  readonly sharesMemory: boolean;
  post(request: ReplicaRequest, transfer: ArrayBuffer[]): void;
  /** Keeps the trainer's process alive while requests are outstanding; an idle helper does not. */
  hold(busy: boolean): void;
  /** Stops the helper; resolves once it is gone. */
  close(): Promise<void>;
}

export interface LinkEvents {
  reply(reply: ReplicaReply): void;
  /** The helper is gone: an uncaught error, an exit, a lost channel. Called once. */
  died(reason: string): void;
}

/** Where the replica module is and whether it needs tsx to load (running from .ts sources). */
function replicaLaunch(): { entry: URL; module: string; registerTsx: boolean } {
  const fromSource = import.meta.url.endsWith('.ts');
  // In the container's bundle both files sit beside the bundle (container/build.ts).
  return { entry: new URL('./replica-entry.mjs', import.meta.url), module: new URL(fromSource ? './replica-main.ts' : './replica-main.js', import.meta.url).href, registerTsx: fromSource };
}

function onceDied(events: LinkEvents): (reason: string) => void {
  let dead = false;
  return (reason) => {
    if (dead) return;
    dead = true;
    events.died(reason);
  };
}

export function threadLink(events: LinkEvents): ReplicaLink {
  const { entry, module, registerTsx } = replicaLaunch();
  const worker = new Worker(entry, { workerData: { module, registerTsx } });
  worker.unref();
  let closing = false;
  const died = onceDied(events);
  worker.on('message', (reply: ReplicaReply) => events.reply(reply));
  worker.on('error', (error) => died(`its worker thread threw ${error.name}: ${error.message}`));
  worker.on('exit', (code) => died(closing ? 'it was closed' : `its worker thread exited with code ${code}`));
  return {
    transport: 'threads',
    sharesMemory: true,
    post: (request, transfer) => worker.postMessage(request, transfer),
    hold: (busy) => (busy ? worker.ref() : worker.unref()),
    async close() {
      closing = true;
      await worker.terminate();
    },
  };
}

export function processLink(events: LinkEvents, env: Record<string, string | undefined>): ReplicaLink {
  const { entry, module, registerTsx } = replicaLaunch();
  const child: ChildProcess = fork(fileURLToPath(entry), [], {
    // No inherited loader flags (vitest's, tsx's): the entry registers tsx itself.
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env, SAGE_REPLICA_LAUNCH: JSON.stringify({ module, registerTsx }) },
  });
  child.unref();
  let closing = false;
  const died = onceDied(events);
  child.on('message', (reply: ReplicaReply) => events.reply(reply));
  child.on('error', (error) => died(`its child process failed: ${error.message}`));
  child.on('exit', (code, signal) => died(closing ? 'it was closed' : `its child process (pid ${child.pid}) exited with ${signal ? `signal ${signal}` : `code ${code}`}`));
  const channel = () => (child as unknown as { channel?: { ref(): void; unref(): void } }).channel;
  channel()?.unref();
  return {
    transport: 'processes',
    sharesMemory: false,
    post: (request) => {
      if (!child.connected) {
        died(`its child process (pid ${child.pid}) is no longer connected`);
        return;
      }
      child.send(request);
    },
    hold: (busy) => {
      if (busy) {
        child.ref();
        channel()?.ref();
      } else {
        child.unref();
        channel()?.unref();
      }
    },
    async close() {
      closing = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Closing the channel ends the helper (replica-main.ts exits on 'disconnect'); a kill if it lingers.
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}
