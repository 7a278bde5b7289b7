/**
 * Idempotency of one upload, shaped like Powertools' idempotency persistence layer: a claim
 * record written with If-None-Match (`claimed`, with an in-progress expiry), completed as
 * `submitted` or `rejected`, released (deleted) when the handler fails before anything left
 * this process, or expired at once, keeping its run id, when it fails after SubmitJob was sent.
 *
 * The lease is the holder's own remaining time (Powertools' in-progress expiry): a handler
 * that dies (time-out, out of memory) cannot release its claim, but the claim is stale once
 * its deadline has passed. A delivery that finds a live claim waits for it to end when its
 * own time allows (the holder's deadline always comes before a retry's own), then takes it
 * over; otherwise it fails with UploadClaimInProgressError so Lambda retries it later. Either
 * way no upload is lost, and because the run id travels in the claim, a take-over submits
 * under the same run id and job name as the dead holder and finds its job if it got that far.
 */
import type { UploadClaim } from '../contracts/documents';
import { UploadClaim as UploadClaimSchema } from '../contracts/documents';
import { PreconditionFailedError, type ObjectStore } from '../storage';
import type { Clock } from './context';
import { readDocument, toJson } from './documents';
import { PipelineClaimInProgressError } from './errors';
import type { PipelineLog } from './log';

/** A lease for callers that do not know their deadline (the local pipeline): the Lambda maximum. */
export const DEFAULT_LEASE_MS = 15 * 60 * 1000;
/** What a delivery keeps for the work itself when it waits for another holder (100,000 items validate in ~7 s). */
export const DEFAULT_WORK_MS = 30_000;
/** Margin on a lease for clocks that disagree a little. */
const CLOCK_SKEW_MS = 1000;

export interface UploadClaimsOptions {
  store: ObjectStore;
  claimUri: string;
  clock: Clock;
  log: PipelineLog;
  /** Waits `ms` (tests pass a fake that moves their clock). Default: setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** How often a waiting delivery re-reads a live claim. Default 5 s. */
  pollMs?: number;
}

/** What a delivery has to work with: how long it may still run, and how much of that the work needs. */
export interface ClaimBudget {
  /** The handler's remaining time (Lambda's getRemainingTimeInMillis). */
  remainingMs: number;
  /** Time the work itself needs after the claim is won; a wait may use the rest. Default 30 s. */
  workMs?: number;
}

export type ClaimResult =
  /** This delivery holds the claim; `previous` is the stale claim it took over, if any. */
  | { kind: 'won'; claim: UploadClaim; etag: string; previous?: UploadClaim }
  /** Another delivery finished the upload: nothing to do. */
  | { kind: 'completed'; claim: UploadClaim };

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class UploadClaims {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly pollMs: number;
  private etag: string | undefined;

  constructor(private readonly options: UploadClaimsOptions) {
    this.sleep = options.sleep ?? defaultSleep;
    this.pollMs = options.pollMs ?? 5000;
  }

  /**
   * Claims the upload for `fresh` (state `claimed`; its expiresAt is set here from the
   * budget). Resolves `won` or `completed`; throws PipelineClaimInProgressError when a live
   * claim outlasts what this delivery can wait.
   */
  async acquire(fresh: Omit<UploadClaim, 'expiresAt' | 'version'>, budget: ClaimBudget): Promise<ClaimResult> {
    const { store, claimUri, clock, log } = this.options;
    // This handler's own deadline is its lease end; waiting may use what the work does not need.
    const deadline = clock.now().getTime() + budget.remainingMs;
    const waitUntil = deadline - (budget.workMs ?? DEFAULT_WORK_MS);
    const mine: UploadClaim = { version: 1, ...fresh, state: 'claimed', expiresAt: new Date(deadline).toISOString() };
    for (;;) {
      try {
        this.etag = await store.put(claimUri, toJson(mine), { ifNoneMatch: '*', contentType: 'application/json' });
        return { kind: 'won', claim: mine, etag: this.etag };
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
      const existing = await readDocument(store, claimUri, UploadClaimSchema);
      if (!existing) continue; // released in between: claim it afresh
      const held = existing.value;
      if (held.state !== 'claimed') return { kind: 'completed', claim: held };
      const now = clock.now().getTime();
      // The holder keeps its claim a little past its deadline, for clocks that disagree.
      const expiresAt = (held.expiresAt !== undefined ? Date.parse(held.expiresAt) : Date.parse(held.claimedAt) + DEFAULT_LEASE_MS) + CLOCK_SKEW_MS;
      if (now < expiresAt) {
        if (expiresAt > waitUntil) throw new PipelineClaimInProgressError(claimUri, held.owner, new Date(expiresAt).toISOString());
        log.info('the upload is claimed by a live handler: waiting for it to finish or expire', { claimUri, owner: held.owner, expiresAt: held.expiresAt });
        await this.sleep(Math.max(1, Math.min(this.pollMs, expiresAt - now)));
        continue;
      }
      // Stale: its holder died. Keep its run id, so a job it may have submitted is found by name.
      const takeover: UploadClaim = { ...mine, ...(held.runId ? { runId: held.runId } : {}), ...(held.jobName ? { jobName: held.jobName } : {}) };
      try {
        this.etag = await store.put(claimUri, toJson(takeover), { ifMatch: existing.etag, contentType: 'application/json' });
        log.warn('took over a stale claim', { claimUri, previousOwner: held.owner, expiredAt: new Date(expiresAt).toISOString() });
        return { kind: 'won', claim: takeover, etag: this.etag, previous: held };
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
        // Someone else took it over first: look again.
      }
    }
  }

  /** Records the end of the work (`submitted` with the job, or `rejected` with the report). */
  async complete(claim: UploadClaim): Promise<void> {
    const { store, claimUri, clock } = this.options;
    const done: UploadClaim = { ...claim, completedAt: clock.now().toISOString() };
    delete done.expiresAt;
    this.etag = await store.put(claimUri, toJson(done), { contentType: 'application/json' });
  }

  /**
   * Ends this delivery's lease now but keeps the claim and its run id: for a failure after
   * SubmitJob was sent, when Batch may hold the job (a lost response, a time-out). The
   * event's retry takes the claim over at once and looks the job up by its name before
   * submitting, where a released claim would give the retry a new run id and a second job.
   */
  async expire(claim: UploadClaim): Promise<void> {
    const { store, claimUri, clock } = this.options;
    const expired: UploadClaim = { ...claim, state: 'claimed', expiresAt: new Date(clock.now().getTime() - CLOCK_SKEW_MS).toISOString() };
    this.etag = await store.put(claimUri, toJson(expired), { ...(this.etag ? { ifMatch: this.etag } : {}), contentType: 'application/json' });
  }

  /** Gives the claim back so the event's retry does the work; only when this delivery holds it. */
  async release(): Promise<void> {
    const { store, claimUri } = this.options;
    const current = await store.head(claimUri);
    if (current && current.etag === this.etag) await store.delete(claimUri);
  }
}
