/**
 * loadClip: a Hugging Face CLIP folder (local or `s3://`) → ClipModel. The config
 * decides every size; the checkpoint is checked tensor by tensor against it before
 * anything is built. A real checkpoint takes seconds to minutes to read and build, so
 * each stage can report to a log: reading (MB and ETA), decoding, building the towers.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseClipConfig } from './config';
import { localClipFolder } from './folder';
import { ClipModelImpl } from './model';
import { type ClipLog, formatMegabytes, formatSeconds, percent, silentClipLog, StageProgress } from './progress';
import { readSafetensorsFile, type SafetensorsEntry, type SafetensorsFileSummary } from './safetensors';
import type { ClipConfig, ClipModel } from './types';
import { checkClipTensors } from './weights';
import { ClipError } from '../common/errors';

export interface LoadClipOptions {
  /** Where S3 folders are downloaded (default `$SAGE_CACHE_DIR/clip` or `~/.cache/sage/clip`). */
  cacheDir?: string;
  /** Receives the stage lines (download, reading with MB counts and ETA, decoding, building). Default: silent. */
  log?: ClipLog;
}

/** A required file of the CLIP folder is missing or unreadable. */
export class ClipFolderError extends ClipError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClipFolderError';
  }
}

async function readRequired(dir: string, name: string, source: string): Promise<Buffer> {
  try {
    return await readFile(path.join(dir, name));
  } catch (error) {
    throw new ClipFolderError(`CLIP folder ${source} has no readable ${name} (expected config.json and model.safetensors in the Hugging Face layout)`, { cause: error });
  }
}

function describeConfig(config: ClipConfig): string {
  const { vision, text } = config;
  return (
    `vision ${vision.numLayers} layers × ${vision.hiddenSize}, patch ${vision.patchSize} at ${vision.imageSize} px; ` +
    `text ${text.numLayers} layers × ${text.hiddenSize}; projection ${config.projectionDim}`
  );
}

function describeDtypes(summary: SafetensorsFileSummary): string {
  return Object.entries(summary.tensorsByDtype)
    .map(([dtype, count]) => `${count} ${dtype}`)
    .join(', ');
}

/** Reads model.safetensors tensor by tensor, with a line at each quarter of the bytes. */
async function readWeights(file: string, source: string, log: ClipLog): Promise<Map<string, SafetensorsEntry>> {
  let progress: StageProgress | null = null;
  const reading = readSafetensorsFile(file, {
    onProgress: ({ bytesDone, bytesTotal }) => {
      if (!progress) {
        log(`CLIP ${source}: reading model.safetensors (${formatMegabytes(bytesTotal)} of tensors)`);
        progress = new StageProgress(bytesTotal, (done, total, elapsed, eta) => {
          if (done < total) log(`CLIP ${source}: weights ${percent(done, total)} (${formatMegabytes(done)} of ${formatMegabytes(total)}), ${formatSeconds(elapsed)}, ETA ${formatSeconds(eta)}`);
        });
      }
      progress.update(bytesDone);
    },
  });
  const { tensors, summary } = await reading;
  const decodedBytes = [...tensors.values()].reduce((sum, t) => sum + t.data.byteLength, 0);
  log(
    `CLIP ${source}: weights read in ${formatSeconds(summary.readSeconds + summary.decodeSeconds)} ` +
      `(${describeDtypes(summary)} tensors; reading ${formatSeconds(summary.readSeconds)}, decoding ${formatSeconds(summary.decodeSeconds)}), ${formatMegabytes(decodedBytes)} as float32`,
  );
  return tensors;
}

export async function loadClip(location: string, options: LoadClipOptions = {}): Promise<ClipModel> {
  const log = options.log ?? silentClipLog;
  const started = performance.now();
  const folder = await localClipFolder(location, options.cacheDir, log);
  const configText = (await readRequired(folder.dir, 'config.json', location)).toString('utf8');
  const config = parseClipConfig(configText, `${location}/config.json`);
  log(`CLIP ${location}: ${describeConfig(config)}`);
  const weightsFile = path.join(folder.dir, 'model.safetensors');
  let table: Map<string, SafetensorsEntry>;
  try {
    table = await readWeights(weightsFile, location, log);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    throw new ClipFolderError(`CLIP folder ${location} has no readable model.safetensors (expected config.json and model.safetensors in the Hugging Face layout)`, { cause: error });
  }
  checkClipTensors(config, table, `${location}/model.safetensors`);
  // The checkpoint's learned logit scale (stored as its log) wins over the config's initial value.
  const logitScale = Math.exp(table.get('logit_scale')!.data[0]!);
  log(`CLIP ${location}: building the towers (vision ${config.vision.numLayers} blocks, text ${config.text.numLayers} blocks)`);
  const building = performance.now();
  const model = new ClipModelImpl({ ...config, logitScale }, table, {
    source: location,
    fingerprint: `${location}#${folder.weightsId ?? 'unknown'}`,
  });
  const done = performance.now();
  log(`CLIP ${location}: ready in ${formatSeconds((done - started) / 1000)} (towers built in ${formatSeconds((done - building) / 1000)})`);
  return model;
}
