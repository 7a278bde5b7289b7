/**
 * Training settings: one schema for the manifest's overrides, the CLI flags and the
 * engine's configuration, so a range is checked in exactly one place. Defaults and
 * presets follow SPEC section 2 (Table 8) and the choices of section 3.
 */
import { z } from 'zod';

export const METHODS = ['zero-shot', 'lift', 'sage'] as const;
export const Method = z.enum(METHODS);
export type Method = z.infer<typeof Method>;

export const PRESETS = ['cifar100-lt-r100', 'cifar100-lt-r50', 'cifar100-lt-r10', 'places-lt', 'imagenet-lt', 'inat2018'] as const;
export const PresetName = z.enum(PRESETS);
export type PresetName = z.infer<typeof PresetName>;

/** The four ablation switches of Tables 5-6. LIFT = none; Sage = all four. */
export const Components = z
  .object({
    /** SG-Adapter instead of AdaptFormer. */
    sg: z.boolean(),
    /** Classifier initialised from the 60 templates of Appendix F (else "a photo of a [cls]."). */
    init: z.boolean(),
    /** Distribution-mismatch compensation factor (Eq. 22). */
    cf: z.boolean(),
    /** Feature interchange (Eqs. 23-24). */
    fit: z.boolean(),
  })
  .strict();
export type Components = z.infer<typeof Components>;

export const KEEP_RULES = ['last', 'best'] as const;
export const KeepRule = z.enum(KEEP_RULES);
export type KeepRule = z.infer<typeof KeepRule>;

export const KEEP_METRICS = ['all', 'head', 'medium', 'tail', 'top5'] as const;
export const KeepMetric = z.enum(KEEP_METRICS);
export type KeepMetric = z.infer<typeof KeepMetric>;

/**
 * Settings that decide only when a run is evaluated and which evaluated weights it keeps, not
 * how it trains: a checkpoint may be resumed with other values, and adapter headers written
 * before they existed read with the defaults.
 */
export const EVALUATION_SETTING_KEYS = ['evalEvery', 'keep', 'keepMetric'] as const;

/**
 * Settings that decide only how the work is spread over the machine, not what is computed
 * (beyond the order of a float32 sum): a checkpoint may be resumed with another value.
 */
export const EXECUTION_SETTING_KEYS = ['replicas'] as const;

/**
 * The ranges of every setting except `method` and `components`, written once: the resolved
 * Settings and the overrides a manifest, a sweep entry or a CLI flag may give share them.
 */
const settingFields = {
  /** `la`: logit-adjusted CE (Eq. 1); `ce`: plain cross-entropy (Table 7's first rows). */
  loss: z.enum(['la', 'ce']),
  /** LA temperature τ: adds τ·log n. 1 in the paper. */
  tau: z.number().min(0).max(10),
  /** SG-Adapter keeps W_proj (false: Tables 10-12's variant f_vt = f_t ⊙ f_v). */
  sgProjection: z.boolean(),
  /** Share of ReLU in the SG-Adapter activation (Eq. 8), in [0, 1]. */
  alpha: z.number().min(0).max(1),
  /** CF scale μ (> 0; cancels in the softmax). */
  mu: z.number().gt(0).max(1e6),
  /** CF exponent γ. */
  gamma: z.number().min(0).max(1),
  lambda1: z.number().min(0).max(100),
  lambda2: z.number().min(0).max(100),
  lambda3: z.number().min(0).max(100),
  /** Adapter bottleneck r; null = LIFT's rule 2^max(0, floor(log2(C / (2L)))). */
  bottleneck: z.number().int().positive().max(4096).nullable(),
  /** Cosine-classifier scale (25, LIFT's). */
  logitScale: z.number().gt(0).max(1000),
  /** Initial adapter output scale s, SG-Adapter s_vt, FIT s1 and s2 (SPEC section 3). */
  adapterScale: z.number().min(-100).max(100),
  svtInit: z.number().min(-100).max(100),
  fitScaleInit: z.number().min(-100).max(100),
  learningRate: z.number().gt(0).max(10),
  momentum: z.number().min(0).lt(1),
  weightDecay: z.number().min(0).max(1),
  epochs: z.number().int().min(1).max(1000),
  batchSize: z.number().int().min(1).max(65536),
  /**
   * Images per forward/backward; gradients accumulate to batchSize, so it changes no result
   * beyond a float32 sum's order. null = automatic: the trainer takes the largest the memory
   * model fits in the device (src/estimate/memory.ts), at most batchSize, and halves it on an
   * out-of-memory error; the engine alone (trainSage without the trainer) uses batchSize.
   */
  microBatchSize: z
    .number()
    .int()
    .min(1)
    .max(65536)
    .nullable()
    .describe('Images per forward/backward pass; gradients accumulate to batchSize. null: automatic (the largest the device memory fits, at most batchSize, halved on an out-of-memory error).'),
  seed: z.number().int().min(0).max(2 ** 31 - 1),
  /** Five-crop test-time ensemble. */
  tte: z.boolean(),
  /**
   * Smallest share of the image area a training random-resized crop keeps (SPEC: 0.08).
   * Tiny images whose object fills the frame (the procedural demo) lose the object below ~0.3.
   */
  cropScaleMin: z.number().gt(0).max(1),
  /**
   * Evaluate every N epochs during training (and after the last one), on the manifest's `val`
   * split when it has one, else on `test`; 0 = only at the end.
   */
  evalEvery: z.number().int().min(0).max(1000),
  /** The weights the run ends with: the last epoch's, or the best evaluated epoch's (needs evalEvery > 0). */
  keep: KeepRule,
  /** What `keep: best` maximises on the evaluated split: top-1 over all images, a group's mean per-class accuracy, or top-5. */
  keepMetric: KeepMetric,
  /**
   * Data-parallel replicas W (SPEC section 7): a step's micro-batches and the test images are
   * shared out over W workers (threads on the CPU, one process per GPU). null = the machine's
   * default (cores bounded by memory, or the visible GPUs); 1 = the single-thread path.
   */
  replicas: z.number().int().min(1).max(256).nullable(),
};

/** Every setting, fully resolved. Documented defaults are in DEFAULT_SETTINGS. */
export const Settings = z
  .object({
    method: Method,
    components: Components,
    ...settingFields,
    // Defaults here (not in settingFields, which the overrides share) so an adapter.json written before these existed still reads.
    evalEvery: settingFields.evalEvery.default(0),
    keep: settingFields.keep.default('last'),
    keepMetric: settingFields.keepMetric.default('all'),
    replicas: settingFields.replicas.default(null),
  })
  .strict()
  .refine((s) => s.microBatchSize === null || s.microBatchSize <= s.batchSize, {
    message: 'microBatchSize must not exceed batchSize',
    path: ['microBatchSize'],
  })
  .refine((s) => s.keep !== 'best' || s.evalEvery > 0 || s.method === 'zero-shot', {
    message: 'keep "best" needs evalEvery > 0: the best of the epochs evaluated during training',
    path: ['keep'],
  });
export type Settings = z.infer<typeof Settings>;

/** What a manifest, a sweep entry or a CLI flag may override: any subset of Settings, plus a preset. */
export const SettingsOverrides = z
  .object({ method: Method, components: Components.partial(), ...settingFields, preset: PresetName })
  .partial()
  .strict();
export type SettingsOverrides = z.infer<typeof SettingsOverrides>;

export const METHOD_COMPONENTS: Record<Method, Components> = {
  'zero-shot': { sg: false, init: false, cf: false, fit: false },
  lift: { sg: false, init: false, cf: false, fit: false },
  sage: { sg: true, init: true, cf: true, fit: true },
};

/** Defaults: SPEC's training recipe and section 3's choices; the CIFAR-100-LT β=100 Sage hyper-parameters. */
export const DEFAULT_SETTINGS: Settings = {
  method: 'sage',
  components: METHOD_COMPONENTS.sage,
  loss: 'la',
  tau: 1,
  sgProjection: true,
  alpha: 0.1,
  mu: 0.5,
  gamma: 0.05,
  lambda1: 0.015,
  lambda2: 0.015,
  lambda3: 0.4,
  bottleneck: null,
  logitScale: 25,
  adapterScale: 1,
  svtInit: 1,
  fitScaleInit: 1,
  learningRate: 0.01,
  momentum: 0.9,
  weightDecay: 5e-4,
  epochs: 10,
  batchSize: 128,
  microBatchSize: null,
  seed: 0,
  tte: false,
  cropScaleMin: 0.08,
  evalEvery: 0,
  keep: 'last',
  keepMetric: 'all',
  replicas: null,
};

/** Table 8 (μ = 0.5 everywhere); TTE on as in the paper's runs; iNat trains 20 epochs. */
export const PRESET_SETTINGS: Record<PresetName, Partial<Settings>> = {
  'cifar100-lt-r100': { alpha: 0.1, gamma: 0.05, lambda1: 0.015, lambda2: 0.015, lambda3: 0.4, mu: 0.5, tte: true },
  'cifar100-lt-r50': { alpha: 0.1, gamma: 0.06, lambda1: 0.0001, lambda2: 0.01, lambda3: 0.6, mu: 0.5, tte: true },
  'cifar100-lt-r10': { alpha: 0.1, gamma: 0.06, lambda1: 0.002, lambda2: 0.005, lambda3: 0.2, mu: 0.5, tte: true },
  'places-lt': { alpha: 0.8, gamma: 0.05, lambda1: 0.003, lambda2: 0.01, lambda3: 0.2, mu: 0.5, tte: true },
  'imagenet-lt': { alpha: 0.8, gamma: 0.05, lambda1: 0.005, lambda2: 0.01, lambda3: 0.2, mu: 0.5, tte: true },
  inat2018: { alpha: 1.0, gamma: 0.085, lambda1: 1e-7, lambda2: 1e-7, lambda3: 1e-7, mu: 0.5, tte: true, epochs: 20 },
};

/**
 * Defaults, then the preset, then each layer of overrides in order (manifest, sweep entry,
 * CLI). A `method` sets the components; explicit `components` in a later or the same layer
 * refine them. Throws a ZodError naming the field when the result is out of range.
 */
export function resolveSettings(...layers: readonly (SettingsOverrides | undefined)[]): Settings {
  let settings: Settings = { ...DEFAULT_SETTINGS };
  const preset = [...layers].reverse().find((l) => l?.preset !== undefined)?.preset;
  if (preset) settings = { ...settings, ...PRESET_SETTINGS[preset] };
  for (const layer of layers) {
    if (!layer) continue;
    const { preset: _preset, components, method, ...rest } = layer;
    settings = { ...settings, ...rest };
    if (method) settings = { ...settings, method, components: { ...METHOD_COMPONENTS[method] } };
    if (components) settings = { ...settings, components: { ...settings.components, ...components } };
  }
  return Settings.parse(settings);
}

/** The settings without those that only decide evaluation and the kept weights (EVALUATION_SETTING_KEYS) or the replicas (EXECUTION_SETTING_KEYS): what a checkpoint must match. */
export function trainingSettingsOf(settings: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const keys: ReadonlySet<string> = new Set([...EVALUATION_SETTING_KEYS, ...EXECUTION_SETTING_KEYS]);
  return Object.fromEntries(Object.entries(settings).filter(([key]) => !keys.has(key)));
}

/** A short label: `sage`, `lift`, `zero-shot`, or `lift+sg+cf` for a custom combination. */
export function methodLabel(settings: Pick<Settings, 'method' | 'components'>): string {
  if (settings.method === 'zero-shot') return 'zero-shot';
  const on = (Object.keys(settings.components) as (keyof Components)[]).filter((k) => settings.components[k]);
  if (on.length === 4) return 'sage';
  if (on.length === 0) return 'lift';
  return `lift+${on.join('+')}`;
}
