/**
 * The demo's data: a procedural long-tailed dataset (coloured shapes, src/procedural) with
 * the mini-CLIP as weights, and a sweep of the three methods, sized so the whole local
 * pipeline finishes in a few minutes on two CPU cores.
 */
import type { SettingsOverrides } from '../contracts/settings';
import type { Manifest } from '../manifest/schema';
import type { DomainName } from '../procedural';
import { storeFor } from '../storage';

export interface DemoSize {
  /** How the images look (src/procedural/domain.ts). */
  domain: DomainName;
  classes: number;
  imbalanceRatio: number;
  maxPerClass: number;
  testPerClass: number;
  /** Image side; default the generator's (the mini-CLIP's input size). */
  imageSize?: number;
  epochs: number;
  batchSize: number;
  seed: number;
}

/**
 * 24 classes, β = 20, 200 → 10 training images a class (1,568 in all; 6 head, 12 medium,
 * 6 tail classes), 20 test images a class, at the mini-CLIP's image size; 8 epochs of batch 32.
 * The images are in the `tungsten` domain: a downstream dataset that differs from the CLIP's
 * pretraining images, as real ones do (on the mini-CLIP's own domain zero-shot is unbeatable).
 */
export const DEMO_SIZE: DemoSize = { domain: 'tungsten', classes: 24, imbalanceRatio: 20, maxPerClass: 200, testPerClass: 20, epochs: 8, batchSize: 32, seed: 0 };

/** The paper's comparison: zero-shot CLIP, LIFT and Sage on the same data. */
export const DEMO_SWEEP: SettingsOverrides[] = [{ method: 'zero-shot' }, { method: 'lift' }, { method: 'sage' }];

export interface DemoDataset {
  manifestUri: string;
  manifest: Manifest;
  trainCounts: number[];
}

/** Generates the dataset under `outDir` and writes its manifest with the demo's training settings and sweep. */
export async function writeDemoDataset(outDir: string, size: DemoSize = DEMO_SIZE, weights?: string): Promise<DemoDataset> {
  const { generateProceduralDataset } = await import('../procedural');
  const generated = await generateProceduralDataset({
    outDir,
    classes: size.classes,
    imbalanceRatio: size.imbalanceRatio,
    maxPerClass: size.maxPerClass,
    testPerClass: size.testPerClass,
    ...(size.imageSize ? { imageSize: size.imageSize } : {}),
    seed: size.seed,
    domain: size.domain,
    name: 'demo',
    ...(weights ? { weights } : {}),
    // Plain test transform (no five-crop ensemble) keeps evaluation quick on the CPU. Crops keep
    // at least half the image: below that a 36-pixel shape is often cut out of the frame.
    training: { epochs: size.epochs, batchSize: size.batchSize, seed: size.seed, tte: false, cropScaleMin: 0.5 },
  });
  const manifest: Manifest = {
    ...generated.manifest,
    description: `${generated.manifest.description ?? ''} The demo sweep: zero-shot CLIP, LIFT, Sage.`.trim(),
    sweep: DEMO_SWEEP,
  };
  const store = await storeFor(generated.manifestUri);
  await store.put(generated.manifestUri, `${JSON.stringify(manifest, null, 2)}\n`, { contentType: 'application/json' });
  return { manifestUri: generated.manifestUri, manifest, trainCounts: generated.trainCounts };
}
