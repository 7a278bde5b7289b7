/**
 * From a valid manifest to what gets submitted: the run's entries (one per sweep child), the
 * job's environment and name, and the run record the aggregation step reads. Pure: no store,
 * no clock, no ids of its own, so a retry that plans the same upload again gets the same plan.
 */
import { artifactsKeys, resultsKeys } from '../contracts/layout';
import type { RunEntry, RunRecord } from '../contracts/documents';
import { jobSpecToEnv } from '../contracts/job';
import { methodLabel } from '../contracts/settings';
import { estimateSweep, type AttemptBudget, type MemoryShapes, type SweepEstimate, type SweepRun } from '../estimate';
import { PREDICT_DEFAULTS, referencePolicyFor, resolveReference, resolveRunSettings, sliceCount, sliceRange, sweepSize, type Manifest, type ValidatedPredict } from '../manifest';
import { joinUri } from '../storage';
import type { PipelineLocations } from './context';
import { jobNameFor, type JobSubmission } from './job-submitter';

/** Where and when an accepted upload runs: what every plan of either kind is given. */
interface UploadPlanInput {
  manifestUri: string;
  manifestEtag: string;
  runId: string;
  locations: PipelineLocations;
  /** When the upload was first claimed (ISO). */
  submittedAt: string;
  /** The roots the manifest's references were held to, passed on so the trainer holds them to the same. */
  referenceRoots?: readonly string[];
}

export interface RunPlanInput extends UploadPlanInput {
  manifest: Manifest;
}

export interface RunPlan {
  record: RunRecord;
  recordUri: string;
  submission: JobSubmission;
}

/** The table's view of each run: its method label and the overrides that distinguish it. */
export function runEntriesOf(manifest: Manifest): RunEntry[] {
  const count = sweepSize(manifest);
  return Array.from({ length: count }, (_, sweepIndex) => ({
    sweepIndex,
    method: methodLabel(resolveRunSettings(manifest, sweepIndex)),
    overrides: { ...(manifest.sweep ? manifest.sweep[sweepIndex] : manifest.training) },
  }));
}

/** Array children's job ids are `<parent>:<index>`; a single job's is its own. */
export function childJobId(jobId: string, arraySize: number, sweepIndex: number): string {
  return arraySize > 1 ? `${jobId}:${sweepIndex}` : jobId;
}

/** What every run of either kind shares: its locations, the job's environment, name and record. */
interface CommonPlanInput extends UploadPlanInput {
  manifestName: string;
  weights: string;
  entries: RunEntry[];
  adapterUri?: string;
  kind?: 'predict';
  images?: number;
}

function planCommon(input: CommonPlanInput): RunPlan {
  const { runId, locations, entries } = input;
  const arraySize = entries.length;
  const resultsUri = `${joinUri(locations.results, resultsKeys.run(runId))}/`;
  const checkpointUri = `${joinUri(locations.artifacts, artifactsKeys.checkpoints(runId))}/`;
  const env = jobSpecToEnv({
    runId,
    manifestUri: input.manifestUri,
    resultsUri,
    checkpointUri,
    cudaCacheUri: `${joinUri(locations.artifacts, artifactsKeys.cudaCache())}/`,
    sweepIndex: 0,
    ...(input.referenceRoots ? { referenceRoots: [...input.referenceRoots] } : {}),
    // The folder validation accepted, resolved as the trainer will resolve it.
    weightsUri: resolveReference(input.weights, input.manifestUri, referencePolicyFor(input.manifestUri, input.referenceRoots)),
    ...(input.adapterUri ? { adapterUri: input.adapterUri } : {}),
  });
  const jobName = jobNameFor(input.manifestName, runId);
  const record: RunRecord = {
    version: 1,
    ...(input.kind ? { kind: input.kind } : {}),
    runId,
    manifestName: input.manifestName,
    manifestUri: input.manifestUri,
    manifestEtag: input.manifestEtag,
    jobName,
    arraySize,
    resultsUri,
    checkpointUri,
    submittedAt: input.submittedAt,
    entries,
    env,
    ...(input.images !== undefined ? { images: input.images } : {}),
  };
  return { record, recordUri: joinUri(locations.results, resultsKeys.runRecord(runId)), submission: { runId, name: jobName, arraySize, env } };
}

/** A training run: one array child per sweep entry. */
export function planRun(input: RunPlanInput): RunPlan {
  const { manifest, ...rest } = input;
  return planCommon({ ...rest, manifestName: manifest.name, weights: manifest.weights, entries: runEntriesOf(manifest) });
}

export interface PredictPlanInput extends UploadPlanInput {
  validated: ValidatedPredict;
}

/**
 * An inference run: one array child per slice of the images (SPEC section 8), each entry
 * naming its range, the same job environment as training plus the adapter its session may read.
 */
export function planPredictRun(input: PredictPlanInput): RunPlan {
  const { validated, ...rest } = input;
  const { manifest } = validated;
  const sliceSize = manifest.sliceSize ?? PREDICT_DEFAULTS.sliceSize;
  const entries = Array.from({ length: sliceCount(validated.imageCount, sliceSize) }, (_, slice) => {
    const range = sliceRange(validated.imageCount, sliceSize, slice);
    return { sweepIndex: slice, method: 'predict', overrides: { images: `${range.start}-${range.end}` } };
  });
  return planCommon({ ...rest, manifestName: manifest.name, weights: manifest.weights, entries, adapterUri: validated.adapterUri, kind: 'predict', images: validated.imageCount });
}

/** Each sweep entry as the estimate sees it: method, components, epochs, TTE and its label. */
export function sweepRunsOf(manifest: Manifest): SweepRun[] {
  return Array.from({ length: sweepSize(manifest) }, (_, sweepIndex) => {
    const settings = resolveRunSettings(manifest, sweepIndex);
    return {
      sweepIndex,
      label: methodLabel(settings),
      method: settings.method,
      components: settings.components,
      epochs: settings.epochs,
      tte: settings.tte,
      evalEvery: settings.evalEvery,
      bottleneck: settings.bottleneck,
      sgProjection: settings.sgProjection,
    };
  });
}

/** The manifest's estimate from the validated weights' config and split counts; undefined when a count is unknown. */
export function estimateManifest(
  manifest: Manifest,
  clip: MemoryShapes,
  counts: { train?: readonly number[]; test?: readonly number[]; val?: readonly number[] },
  budget: AttemptBudget,
): SweepEstimate | undefined {
  if (!counts.train || !counts.test) return undefined;
  const total = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0);
  // Evaluations during training read the held-out val split when the manifest has one (run-job.ts).
  const evalImages = manifest.val && counts.val ? total(counts.val) : total(counts.test);
  return estimateSweep(clip, sweepRunsOf(manifest), { trainImages: total(counts.train), testImages: total(counts.test), classes: manifest.classes.length, evalImages }, budget);
}
