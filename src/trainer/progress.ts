/**
 * The trainer's side of the engine's reporting interfaces: a console reporter (a cli-progress
 * bar on a TTY, plain lines otherwise, both on stderr), the JSONL training log in an
 * ObjectStore, and the AbortSignal that SIGTERM fires so training checkpoints and stops.
 */
import cliProgress from 'cli-progress';
import { TrainingLogRecord as TrainingLogRecordSchema } from '../contracts/training-log';
import type { EpochProgress, ProgressReporter, TrainingLog, TrainingLogRecord } from '../engine';
import type { ObjectStore } from '../storage';

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m${String(s % 60).padStart(2, '0')}s`;
}

function epochLine(info: EpochProgress): string {
  const top5 = info.top5 === undefined ? '' : ` (top-5 ${(info.top5 * 100).toFixed(2)}%)`;
  const test = info.testAccuracy === undefined ? '' : `, ${info.evaluatedSplit ?? 'test'} acc ${(info.testAccuracy * 100).toFixed(2)}%${top5}`;
  return `epoch ${info.epoch}: loss ${info.loss.toFixed(4)}, train acc ${(info.trainAccuracy * 100).toFixed(2)}%${test} (${info.seconds.toFixed(1)} s)\n`;
}

/** A bar on a TTY, else one line per step (at most one every `minIntervalMs`) plus one per epoch. */
export function consoleProgress(stream: NodeJS.WriteStream = process.stderr, minIntervalMs = 2000): ProgressReporter {
  const message = (text: string) => void stream.write(`${text}\n`);
  const warning = (text: string) => void stream.write(`warning: ${text}\n`);
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: 'epoch {epoch}/{epochs} [{bar}] {value}/{total} steps | loss {loss} | {ips} img/s | ETA {eta}', hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      step(info) {
        const payload = { epoch: info.epoch, epochs: info.epochs, loss: info.loss.toFixed(4), ips: info.imagesPerSecond.toFixed(1), eta: formatEta(info.etaSeconds) };
        if (!started) {
          bar.start(info.stepsPerEpoch, 0, payload);
          started = true;
        }
        bar.setTotal(info.stepsPerEpoch);
        bar.update(info.step, payload);
      },
      epoch(info) {
        bar.stop();
        started = false;
        stream.write(epochLine(info));
      },
      message,
      // A warning must not be overdrawn by the bar: end the bar's line first.
      warning(text) {
        if (started) stream.write('\n');
        warning(text);
      },
      close() {
        bar.stop();
      },
    };
  }
  let last = 0;
  return {
    step(info) {
      const now = Date.now();
      if (now - last < minIntervalMs && info.step !== info.stepsPerEpoch) return;
      last = now;
      stream.write(
        `epoch ${info.epoch}/${info.epochs} step ${info.step}/${info.stepsPerEpoch} loss ${info.loss.toFixed(4)} lr ${info.learningRate.toExponential(3)} ${info.imagesPerSecond.toFixed(1)} img/s ETA ${formatEta(info.etaSeconds)}\n`,
      );
    },
    epoch(info) {
      stream.write(epochLine(info));
    },
    message,
    warning,
    close() {},
  };
}

/** Whether a logged record lies beyond a resume point (0-based epoch, steps done in it). */
function beyond(record: TrainingLogRecord, epoch: number, step: number): boolean {
  if (record.type === 'step') return record.epoch - 1 > epoch || (record.epoch - 1 === epoch && record.step > step);
  if (record.type === 'epoch') return record.epoch > epoch;
  return false;
}

/**
 * The JSONL training log at a URI of an ObjectStore, one object per line. Objects cannot be
 * appended to, so the log keeps its lines and rewrites the whole object on flush (each epoch,
 * at a stop). A resumed run continues the log; on a `resume` record the step and epoch lines
 * beyond the resume point (written by an attempt whose newest checkpoint was lost) are dropped,
 * so each step appears once.
 */
export class TrainingLogFile implements TrainingLog {
  private records: TrainingLogRecord[] = [];

  private constructor(
    private readonly store: ObjectStore,
    readonly uri: string,
  ) {}

  /** Opens the log, keeping the lines already there. */
  static async open(store: ObjectStore, uri: string): Promise<TrainingLogFile> {
    const log = new TrainingLogFile(store, uri);
    if (await store.exists(uri)) {
      for (const line of (await store.getText(uri)).split('\n')) {
        if (line.trim().length === 0) continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          // A line cut short by a crash during an earlier write: the rest of the log is still good.
          continue;
        }
        const parsed = TrainingLogRecordSchema.safeParse(value);
        if (parsed.success) log.records.push(parsed.data);
      }
    }
    return log;
  }

  /** The records kept so far: those of earlier attempts, then this one's. */
  kept(): readonly TrainingLogRecord[] {
    return this.records;
  }

  append(record: TrainingLogRecord): void {
    if (record.type === 'resume') this.records = this.records.filter((r) => !beyond(r, record.epoch, record.step));
    this.records.push(record);
  }

  async flush(): Promise<void> {
    await this.store.put(this.uri, `${this.records.map((r) => JSON.stringify(r)).join('\n')}\n`, { contentType: 'application/x-ndjson' });
  }
}

/**
 * An AbortSignal that fires on SIGTERM (and SIGINT): training finishes its step, checkpoints
 * and returns `status: 'stopped'`. The handlers go after the first signal, so a second one
 * ends the process as it normally would. Call `dispose` to remove them earlier.
 */
export function abortOnTermination(
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
  onSignal?: (signal: NodeJS.Signals) => void,
): { signal: AbortSignal; requestStop(): void; dispose(): void } {
  const controller = new AbortController();
  const requestStop = () => controller.abort();
  const handlers = new Map<NodeJS.Signals, () => void>();
  const dispose = () => {
    for (const [name, handler] of handlers) process.off(name, handler);
    handlers.clear();
  };
  for (const name of signals) {
    const handler = () => {
      dispose();
      onSignal?.(name);
      controller.abort(new Error(name));
    };
    handlers.set(name, handler);
    process.on(name, handler);
  }
  return { signal: controller.signal, requestStop, dispose };
}
