/** What both pipeline cores are given: where the buckets are, and the clock and ids they use. */
import { randomBytes } from 'node:crypto';
import type { ObjectStore } from '../storage';
import type { PipelineLog } from './log';

/** Roots of the three buckets: `s3://bucket` on AWS, folders on one machine. */
export interface PipelineLocations {
  data: string;
  results: string;
  artifacts: string;
}

export interface Clock {
  now(): Date;
}

export interface IdSource {
  /** A new run id: unique, sortable by time, safe in keys and job names. */
  runId(): string;
}

export interface PipelineContext {
  locations: PipelineLocations;
  /** Store that reads the data bucket (manifests, images). */
  dataStore: ObjectStore;
  /** Store that reads and writes the results bucket. */
  resultsStore: ObjectStore;
  clock: Clock;
  log: PipelineLog;
}

export const systemClock: Clock = { now: () => new Date() };

/** `20261129T101500Z-3f9a1c`: the UTC second it was made and 24 random bits. */
export const randomIds: IdSource = {
  runId: () => `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`,
};
