/**
 * Progress for a person and for machines: a bar (cli-progress) on a TTY or plain lines
 * otherwise, both on stderr; and a JSONL log with one object per step and per epoch.
 */
import cliProgress from 'cli-progress';
import { storeFor } from '../storage';

export interface StepProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  learningRate: number;
  imagesPerSecond: number;
  /** Seconds left in the whole run, from the mean step time so far. */
  etaSeconds: number;
}

export interface EpochProgress {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy?: number;
  seconds: number;
}

export interface ProgressReporter {
  step(info: StepProgress): void;
  epoch(info: EpochProgress): void;
  message(text: string): void;
  close(): void;
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m${String(s % 60).padStart(2, '0')}s`;
}

/** A bar on a TTY, else one line per step (at most one every `minIntervalMs`) plus one per epoch. */
export function consoleProgress(stream: NodeJS.WriteStream = process.stderr, minIntervalMs = 2000): ProgressReporter {
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
        stream.write(`epoch ${info.epoch}: loss ${info.loss.toFixed(4)}, train acc ${(info.trainAccuracy * 100).toFixed(2)}%${info.testAccuracy === undefined ? '' : `, test acc ${(info.testAccuracy * 100).toFixed(2)}%`} (${info.seconds.toFixed(1)} s)\n`);
      },
      message(text) {
        stream.write(`${text}\n`);
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
      stream.write(`epoch ${info.epoch}: loss ${info.loss.toFixed(4)}, train acc ${(info.trainAccuracy * 100).toFixed(2)}%${info.testAccuracy === undefined ? '' : `, test acc ${(info.testAccuracy * 100).toFixed(2)}%`} (${info.seconds.toFixed(1)} s)\n`);
    },
    message(text) {
      stream.write(`${text}\n`);
    },
    close() {},
  };
}

/** Reports nothing (tests, library use). */
export const silentProgress: ProgressReporter = { step() {}, epoch() {}, message() {}, close() {} };

/**
 * A JSONL log at an ObjectStore URI (local path or s3://). Objects cannot be appended to,
 * so the log keeps its lines and rewrites the whole object on flush (each epoch, at the end).
 */
export class JsonlLog {
  private readonly lines: string[] = [];

  private constructor(readonly uri: string) {}

  /** Opens the log, keeping the lines already there (a resumed run continues its log). */
  static async open(uri: string): Promise<JsonlLog> {
    const log = new JsonlLog(uri);
    const store = await storeFor(uri);
    if (await store.exists(uri)) log.lines.push(...(await store.getText(uri)).split('\n').filter((l) => l.length > 0));
    return log;
  }

  append(record: Record<string, unknown>): void {
    this.lines.push(JSON.stringify(record));
  }

  async flush(): Promise<void> {
    const store = await storeFor(this.uri);
    await store.put(this.uri, `${this.lines.join('\n')}\n`, { contentType: 'application/x-ndjson' });
  }
}
