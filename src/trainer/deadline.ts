/**
 * An attempt's deadline (SPEC section 6): Batch stops an attempt at the job's timeout, which the
 * job definition passes as SAGE_ATTEMPT_SECONDS. The trainer checkpoints before it when the time
 * left is under a margin of max(3 × the slowest step so far, 5 minutes), and exits 75 ("to be
 * continued"); Batch retries that code and the next attempt resumes. Training asks after each
 * step (through the ProgressReporter the engine calls then), before each evaluation during
 * training (evalEvery; the resumed attempt then evaluates first) and before the final evaluation,
 * whose times are estimated from this attempt's steps.
 */

/** Seconds an attempt keeps in hand at least (the estimate's CHECKPOINT_MARGIN_MINUTES). */
export const MIN_MARGIN_SECONDS = 5 * 60;

export interface AttemptDeadlineOptions {
  /** The attempt's timeout, counted from `startedAt`. */
  attemptSeconds: number;
  /** Default MIN_MARGIN_SECONDS; tests shrink it. */
  minMarginSeconds?: number;
  /** Seconds on a monotonic clock; default performance.now() / 1000. */
  clock?: () => number;
  /** When the attempt began on that clock; default when the process started (Batch's timer starts with the container). */
  startedAt?: number;
}

export class AttemptDeadline {
  private readonly clock: () => number;
  private readonly startedAt: number;
  private readonly controller = new AbortController();
  private lastMark: number;
  private slowest = 0;
  private stepSeconds = 0;
  private stepImages = 0;
  /** Why the deadline stopped training, once it did. */
  reason: string | null = null;

  constructor(private readonly options: AttemptDeadlineOptions) {
    this.clock = options.clock ?? (() => performance.now() / 1000);
    this.startedAt = options.startedAt ?? (options.clock ? this.clock() : this.clock() - process.uptime());
    this.lastMark = this.clock();
  }

  /** Aborts when the deadline stops training (the engine then checkpoints after the step). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Start of the training loop: the first step is measured from here. */
  markTrainingStart(): void {
    this.lastMark = this.clock();
  }

  remainingSeconds(): number {
    return this.startedAt + this.options.attemptSeconds - this.clock();
  }

  marginSeconds(): number {
    return Math.max(3 * this.slowest, this.options.minMarginSeconds ?? MIN_MARGIN_SECONDS);
  }

  slowestStepSeconds(): number {
    return this.slowest;
  }

  stepsObserved(): boolean {
    return this.stepImages > 0;
  }

  /** Training seconds per image in this attempt (0 before any step). */
  secondsPerTrainingImage(): number {
    return this.stepImages > 0 ? this.stepSeconds / this.stepImages : 0;
  }

  /** After a step of `images` images: measures it, and aborts when the time left is under the margin. */
  observeStep(images: number): void {
    const now = this.clock();
    const seconds = Math.max(0, now - this.lastMark);
    this.lastMark = now;
    this.slowest = Math.max(this.slowest, seconds);
    this.stepSeconds += seconds;
    this.stepImages += images;
    const remaining = this.remainingSeconds();
    if (remaining < this.marginSeconds()) this.stop(`${formatSeconds(remaining)} of the attempt's ${formatSeconds(this.options.attemptSeconds)} left, under the margin of ${formatSeconds(this.marginSeconds())} (3 × the slowest step, at least ${formatSeconds(this.options.minMarginSeconds ?? MIN_MARGIN_SECONDS)})`);
  }

  /**
   * Whether `seconds` more work (the evaluation) and the margin still fit. Only asked when this
   * attempt trained, so an attempt that resumes at the end always gets to evaluate.
   */
  fits(seconds: number): boolean {
    return this.remainingSeconds() >= this.marginSeconds() + seconds;
  }

  stop(reason: string): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.controller.abort(new Error(reason));
  }
}

export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
