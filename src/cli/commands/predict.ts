/** `sage predict <images...> --adapter <dir>`: top-k classes of new images as JSON. */
import type { Command } from 'commander';
import { parseLocation, parsePositiveInteger } from '../options';
import type { CliOutput } from '../output';

interface PredictFlags {
  adapter: string;
  weights?: string;
  topK: number;
  tte?: boolean;
}

export function registerPredict(program: Command, output: CliOutput): void {
  program
    .command('predict')
    .description('classify new images with a trained adapter; prints JSON: one entry per image with its top-k classes and probabilities')
    .argument('<images...>', 'image files (png, jpg, webp, ...; paths or s3:// URIs)', (value: string, previous: string[] = []) => [...previous, parseLocation(value)])
    .requiredOption('--adapter <dir>', 'folder holding adapter.json and adapter.safetensors', parseLocation)
    .option('--weights <dir>', 'CLIP weights folder (default: the one the adapter was trained on, from adapter.json)', parseLocation)
    .option('-k, --top-k <k>', 'classes per image', parsePositiveInteger, 5)
    .option('--tte', 'five-crop test-time ensemble')
    .action(async (images: string[], flags: PredictFlags) => {
      const { initBackend, loadClip } = await import('../../clip');
      const { loadAdapter, predict, readAdapterHeader, EngineCheckpointError } = await import('../../engine');
      const { transformImage, floatsPerItem } = await import('../../data/transforms/apply');
      const { storeFor } = await import('../../storage');
      const { CliInputError } = await import('../exit-codes');
      await initBackend({ log: (line) => output.err(line) });
      const adapter = { store: await storeFor(flags.adapter), uri: flags.adapter };
      const header = await readAdapterHeader(adapter).catch((error: unknown) => {
        throw error instanceof EngineCheckpointError ? new CliInputError(error.message) : error;
      });
      const clip = await loadClip(flags.weights ?? header.clip.source);
      const model = await loadAdapter(adapter, { clip });
      try {
        const kind = flags.tte ? 'tte' : 'test';
        const size = clip.config.vision.imageSize;
        const pixels = new Float32Array(floatsPerItem(kind, size));
        // One image at a time keeps memory flat for long lists.
        const results = [];
        for (const uri of images) {
          const store = await storeFor(uri);
          if (!(await store.exists(uri))) throw new CliInputError(`no image at ${uri}`);
          try {
            await transformImage(await store.get(uri), { kind, size, seed: 0 }, pixels, 0);
          } catch (error) {
            throw new CliInputError(`cannot decode ${uri} as an image: ${(error as Error).message}`);
          }
          const [prediction] = await predict(model, { images: pixels, n: 1, size, crops: kind === 'tte' ? 5 : 1, keys: [uri] }, { k: flags.topK });
          results.push({ image: uri, top: prediction!.top });
        }
        output.out(JSON.stringify(results, null, 2));
      } finally {
        model.dispose();
        clip.dispose();
      }
    });
}
