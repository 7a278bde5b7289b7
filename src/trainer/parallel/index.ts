/**
 * Data-parallel training and evaluation over W replicas (SPEC section 7): the trainer's thread
 * is replica 0, helpers 1..W-1 are worker threads (wasm, cpu) or child processes (one per GPU).
 * `startReplicas` decides W (the `replicas` setting, else cores and memory, or GPUs), says why in
 * one line, and opens the pool; with W = 1 it opens nothing and training runs exactly as before.
 */
import type { BackendName, ClipModel } from '../../clip';
import type { Settings } from '../../contracts/settings';
import { ReplicaPool } from './pool';
import { machineResources, planReplicas, replicaTransport, type ReplicaPlan } from './replica-count';

export { ReplicaPool, TrainerReplicaError, dealMicroBatches, type ReplicaPoolOptions } from './pool';
export {
  planReplicas,
  replicaTransport,
  replicaBytes,
  REPLICA_OVERHEAD_BYTES,
  type ReplicaSizeSettings,
  machineResources,
  visibleGpus,
  pinTrainerGpu,
  REPLICA_TRANSPORT_ENV,
  JOB_CORES_ENV,
  jobCoresShare,
  type MachineResources,
  type ReplicaPlan,
} from './replica-count';
export type { ReplicaTransport, ReplicaFault } from './protocol';

export interface StartReplicasOptions {
  settings: Settings;
  backend: string;
  /** The trainer's CLIP (its config sizes a replica) and where it came from (each helper loads the same). */
  clip: ClipModel;
  /** The run's classes (a replica's size grows with them). */
  classes: number;
  location: string;
  cacheDir?: string;
  /** GPU ids seen before this process pinned itself to the first (pinTrainerGpu). */
  gpus?: string[];
  log: (line: string) => void;
}

/** The plan, logged as `replicas: W (reason)`, and the pool when W > 1 (null for W = 1). */
export function startReplicas(options: StartReplicasOptions): { plan: ReplicaPlan; pool: ReplicaPool | null } {
  const plan = planReplicas({
    requested: options.settings.replicas,
    backend: options.backend,
    config: options.clip.config,
    settings: options.settings,
    classes: options.classes,
    machine: machineResources(options.gpus),
    transport: replicaTransport(options.backend),
  });
  const helpers = plan.count - 1;
  const kind = plan.transport === 'threads' ? (helpers === 1 ? 'worker thread' : 'worker threads') : helpers === 1 ? 'child process' : 'child processes';
  options.log(`replicas: ${plan.reason}${helpers > 0 ? `; this thread and ${helpers} helper ${kind}` : ''}`);
  if (plan.count === 1) return { plan, pool: null };
  const pool = ReplicaPool.open({
    replicas: plan.count,
    transport: plan.transport,
    backend: options.backend as BackendName,
    clip: { location: options.location, ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) },
    environments: plan.environments,
  });
  return { plan, pool };
}
