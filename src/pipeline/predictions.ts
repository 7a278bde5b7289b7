/**
 * The end of an inference run: its slices' prediction files joined, in slice order, into the
 * run's own `predictions.jsonl` and `predictions.csv` (one CSV header). The parts are streamed
 * through (ObjectStore.putStream), so a run of millions of images never sits in memory.
 */
import { Readable } from 'node:stream';
import type { RunRecord } from '../contracts/documents';
import { runChildFiles, runPredictionFiles } from '../contracts/layout';
import type { ObjectStore } from '../storage';

/** Each part's bytes in turn; with `dropFirstLine`, every part but the first loses its first line (the CSV header). */
async function* concatenated(store: ObjectStore, uris: readonly string[], dropFirstLine: boolean): AsyncGenerator<Buffer> {
  for (const [position, uri] of uris.entries()) {
    let dropping = dropFirstLine && position > 0;
    for await (const raw of await store.getStream(uri)) {
      let chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      if (dropping) {
        const end = chunk.indexOf(10);
        if (end < 0) continue;
        chunk = chunk.subarray(end + 1);
        dropping = false;
      }
      if (chunk.length > 0) yield chunk;
    }
  }
}

/** Writes the run's joined predictions; resolves to their URIs. */
export async function joinPredictions(record: RunRecord, store: ObjectStore): Promise<{ jsonl: string; csv: string }> {
  const slices = [...record.entries].sort((a, b) => a.sweepIndex - b.sweepIndex).map((entry) => runChildFiles(record.resultsUri, entry.sweepIndex));
  const target = runPredictionFiles(record.resultsUri);
  await store.putStream(target.jsonl, Readable.from(concatenated(store, slices.map((files) => files.predictions), false)), { contentType: 'application/x-ndjson' });
  await store.putStream(target.csv, Readable.from(concatenated(store, slices.map((files) => files.predictionsCsv), true)), { contentType: 'text/csv; charset=utf-8' });
  return target;
}
