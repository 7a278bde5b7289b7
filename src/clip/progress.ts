/**
 * Stage lines for the slow parts of the CLIP runtime (reading a checkpoint of hundreds
 * of MB, encoding thousands of prompts): a few lines with counts and an ETA, so a job
 * log shows what is happening. The library is silent unless a caller passes a log.
 */

/** Receives one line of text per call (no trailing newline). */
export type ClipLog = (line: string) => void;

export const silentClipLog: ClipLog = () => {};

/** `0.42 s`, `12.3 s`, `4m05s`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}

/** Decimal megabytes, one decimal: `299.6 MB`. */
export function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export interface StageProgressOptions {
  /** Lines at each 1/steps of the total. Default 4 (25 %, 50 %, 75 %, 100 %). */
  steps?: number;
  /** Also a line after the first unit of work (the first ETA a person can act on). Default false. */
  first?: boolean;
}

/**
 * Counts work done against a known total and calls `line` when another 1/steps of it is
 * crossed, with the seconds since construction and the ETA from the mean rate so far.
 * Deterministic in how many lines it prints: it depends on the counts, not on time.
 */
export class StageProgress {
  private readonly started = performance.now();
  private readonly steps: number;
  private nextStep = 1;
  private firstPending: boolean;

  constructor(
    private readonly total: number,
    private readonly line: (done: number, total: number, elapsedSeconds: number, etaSeconds: number) => void,
    options: StageProgressOptions = {},
  ) {
    this.steps = options.steps ?? 4;
    this.firstPending = options.first ?? false;
  }

  /** Seconds since the stage started. */
  elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }

  update(done: number): void {
    if (this.total <= 0 || done <= 0) return;
    const crossed = done >= (this.nextStep * this.total) / this.steps;
    if (!crossed && !this.firstPending) return;
    this.firstPending = false;
    while (this.nextStep <= this.steps && done >= (this.nextStep * this.total) / this.steps) this.nextStep++;
    const elapsed = this.elapsed();
    this.line(done, this.total, elapsed, (elapsed * (this.total - done)) / done);
  }
}

/** `40 %` of done/total, rounded down so 100 % means all of it. */
export function percent(done: number, total: number): string {
  return `${total > 0 ? Math.floor((100 * done) / total) : 100} %`;
}
