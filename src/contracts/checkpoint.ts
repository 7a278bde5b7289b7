/**
 * The header of a training checkpoint (`checkpoint.json`, and the generation before it,
 * `checkpoint.previous.json`): where the loop stands, the finished epochs' metrics, the
 * settings and the name of the safetensors file holding the variables and momentum slots.
 * Versioned; validated on read, so a truncated or edited header is refused with its name.
 */
import { z } from 'zod';
import { DivergenceFlag, EpochMetrics, EvaluatedEpoch } from './metrics';

export const CHECKPOINT_VERSION = 1 as const;

/** The file names of the two generations kept in a checkpoint folder, newest first. */
export const CHECKPOINT_HEADER_FILES = { latest: 'checkpoint.json', previous: 'checkpoint.previous.json' } as const;
export type CheckpointGeneration = keyof typeof CHECKPOINT_HEADER_FILES;

/** The divergence monitor's running state (src/engine/train.ts), so a resumed run flags as an uninterrupted one would. */
export const DivergenceState = z.object({
  /** The loss of the run's first step (the untrained model), null before it. */
  reference: z.number().nullable(),
  /** The exponentially smoothed step loss, null before the first step. */
  smoothed: z.number().nullable(),
  flag: DivergenceFlag.nullable(),
});
export type DivergenceState = z.infer<typeof DivergenceState>;

/** Where the loop stands: the 0-based epoch in progress and the steps done within it. */
export const LoopPosition = z.object({
  epoch: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  /** Running sums of the unfinished epoch, so its metrics come out as without a stop. */
  epochLossSum: z.number(),
  epochCorrect: z.number().nonnegative(),
  epochSeen: z.number().int().nonnegative(),
  epochSeconds: z.number().nonnegative(),
  lastFiniteLoss: z.number().nullable(),
  /** Seconds and images over all epochs so far (for images/s). */
  trainSeconds: z.number().nonnegative(),
  imagesSeen: z.number().int().nonnegative(),
  /** Absent in headers written before the monitor existed: it then starts afresh. */
  divergence: DivergenceState.optional(),
  /** The best evaluation so far (`evalEvery`), whose weights are saved as the best adapter; null or absent before any. */
  best: EvaluatedEpoch.nullable().optional(),
});
export type LoopPosition = z.infer<typeof LoopPosition>;

export const CheckpointHeader = z.object({
  version: z.literal(CHECKPOINT_VERSION),
  format: z.literal('sage-checkpoint'),
  /** The run's settings; kept loose so a checkpoint of other settings is refused by comparison, naming both, rather than as unreadable. */
  settings: z.record(z.string(), z.unknown()),
  classNames: z.array(z.string()),
  /** Trainable variable names in optimizer slot order. */
  variables: z.array(z.string()),
  /** The safetensors file (in the same folder) with the variables and `momentum.<name>` slots. */
  stateFile: z.string().regex(/^state-e\d+-s\d+\.safetensors$/),
  /** SHA-256 (hex) of the state file as written, so an altered file is not resumed; absent in older headers. */
  stateSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  optimizerIterations: z.number().int().nonnegative(),
  /**
   * The only randomness in training is the data order, drawn by the source from
   * (seed, epoch); resuming re-seeds it and skips `step · batchSize` items.
   */
  rng: z.object({ seed: z.number().int(), epoch: z.number().int().nonnegative(), skipItems: z.number().int().nonnegative() }),
  position: LoopPosition,
  history: z.array(EpochMetrics),
  savedAt: z.string(),
});
export type CheckpointHeader = z.infer<typeof CheckpointHeader>;
