/**
 * Seeded generators for the fuzz test: valid manifests in many shapes, and mutations of
 * them that each break one known thing at one known place.
 */
import { IMAGE_EXTENSIONS, MAX_MANIFEST_BYTES, type Manifest } from '../../src/manifest';
import { seededRandom } from '../../src/manifest/sampling';

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  float(): number {
    return this.next();
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(values: readonly T[]): T {
    return values[this.int(0, values.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const WORDS = ['apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle', 'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel'];

type Json = Record<string, unknown>;

/** A valid manifest: 2-8 classes in either form, inline items, random valid settings and sweep. */
export function generateValidManifest(rng: Rng): Manifest {
  const count = rng.int(2, 8);
  const names = [...WORDS].sort(() => rng.float() - 0.5).slice(0, count);
  const classes = names.map((name) => (rng.chance(0.5) ? name : rng.chance(0.5) ? { name } : { name, description: `the ${name} class` }));
  const itemsFor = (split: string, perClass: (c: number) => number): { path: string; label: number | string }[] =>
    names.flatMap((name, c) =>
      Array.from({ length: perClass(c) }, (_, i) => {
        const extension = rng.pick(IMAGE_EXTENSIONS);
        return { path: `${split}/${name}/${i}.${rng.chance(0.2) ? extension.toUpperCase() : extension}`, label: rng.chance(0.5) ? c : name };
      }),
    );
  const manifest: Json = {
    version: 1,
    name: `run-${rng.int(0, 9999)}${rng.pick(['', '.v2', '_b'])}`,
    classes,
    images: rng.pick(['./images', 's3://data-bucket/datasets/tiny/images/', '/srv/data/images']),
    train: { items: itemsFor('train', (c) => Math.max(1, 6 - c)) },
    test: { items: itemsFor('test', () => rng.int(0, 2)) },
    weights: rng.pick(['./weights', 's3://artifacts/weights/clip-vit-base-patch16/']),
  };
  if (rng.chance(0.3)) manifest.$schema = '../schema/manifest.schema.json';
  if (rng.chance(0.3)) manifest.description = 'generated';
  if (rng.chance(0.8)) {
    manifest.training = {
      method: rng.pick(['sage', 'lift', 'zero-shot']),
      preset: rng.pick(['cifar100-lt-r100', 'places-lt', 'inat2018']),
      epochs: rng.int(1, 1000),
      batchSize: 128,
      alpha: rng.float(),
      mu: 0.01 + rng.float(),
      gamma: rng.float(),
      lambda1: rng.float() * 100,
      learningRate: 0.001 + rng.float(),
    };
  }
  if (rng.chance(0.5)) {
    manifest.sweep = Array.from({ length: rng.int(1, 5) }, () =>
      rng.pick<Json>([{ method: 'lift' }, { learningRate: 0.02 }, { components: { fit: false } }, { microBatchSize: 64 }, { alpha: 1 }, {}]),
    );
  }
  if (rng.chance(0.3)) manifest.evaluation = { groupCounts: names.map(() => rng.int(0, 500)) };
  return manifest as unknown as Manifest;
}

/** A broken manifest and where the validator must point. */
export interface Mutation {
  kind: string;
  input: string | unknown;
  /** The path one problem must have exactly. */
  path: string;
  /** For syntax errors: the offset of the first changed character; the reported position must not be before it. */
  syntaxOffset?: number;
}

type Mutator = (manifest: Json, rng: Rng) => Omit<Mutation, 'kind'>;

function items(manifest: Json, split: 'train' | 'test'): Json[] {
  return (manifest[split] as { items: Json[] }).items;
}

function classCount(manifest: Json): number {
  return (manifest.classes as unknown[]).length;
}

const OUT_OF_RANGE: readonly [string, unknown][] = [
  ['epochs', 0],
  ['epochs', 1001],
  ['epochs', 2.5],
  ['batchSize', 0],
  ['learningRate', 0],
  ['learningRate', 11],
  ['alpha', -0.1],
  ['alpha', 1.1],
  ['mu', 0],
  ['mu', -1],
  ['gamma', -0.5],
  ['gamma', 2],
  ['lambda1', -1],
  ['lambda2', -0.001],
  ['lambda3', 101],
  ['momentum', 1],
  ['weightDecay', 2],
  ['tau', -1],
  ['seed', -1],
  ['preset', 'cifar10-lt'],
  ['method', 'clip'],
  ['tte', 'yes'],
  ['components', { sg: 1 }],
];

const BAD_PATHS = ['../escape.png', 'a/../../b.png', '/etc/x.png', 'C:/x.png', 's3://other-bucket/x.png', 'https://x.org/a.png', 'x.txt', 'noext', 'a//b.png', './a.png', 'a\\..\\b.png'];

const MUTATORS: Record<string, Mutator> = {
  'delete a required field': (m, rng) => {
    const field = rng.pick(['version', 'name', 'classes', 'train', 'test', 'weights']);
    delete m[field];
    return { input: m, path: field };
  },
  'wrong type': (m, rng) => {
    const choice = rng.pick<[string, () => void]>([
      ['name', () => (m.name = 5)],
      ['classes', () => (m.classes = 'apple,bear')],
      ['version', () => (m.version = '1')],
      ['train', () => (m.train = [])],
      ['weights', () => (m.weights = 3)],
      ['test.items[0].path', () => (m.test = { items: [{ path: 7, label: 0 }] })],
      ['sweep', () => (m.sweep = { method: 'lift' })],
      ['evaluation.groupCounts', () => (m.evaluation = { groupCounts: 'many' })],
    ]);
    choice[1]();
    return { input: m, path: choice[0] };
  },
  'out-of-range setting': (m, rng) => {
    const [field, value] = rng.pick(OUT_OF_RANGE);
    if (rng.chance(0.5)) {
      m.training = { ...((m.training as Json) ?? {}), [field]: value };
      return { input: m, path: field === 'components' ? 'training.components.sg' : `training.${field}` };
    }
    const sweep = (m.sweep as Json[] | undefined) ?? [{}];
    const index = rng.int(0, sweep.length - 1);
    sweep[index] = { ...sweep[index], [field]: value };
    m.sweep = sweep;
    return { input: m, path: field === 'components' ? `sweep[${index}].components.sg` : `sweep[${index}].${field}` };
  },
  'unknown field': (m, rng) => {
    const where = rng.pick(['', 'training', 'item', 'evaluation', 'class']);
    const key = rng.pick(['epoch', 'lr', 'extra', 'Name', 'weight']);
    if (where === '') {
      m[key] = 1;
      return { input: m, path: key };
    }
    if (where === 'training') {
      m.training = { ...((m.training as Json) ?? {}), [key]: 1 };
      return { input: m, path: `training.${key}` };
    }
    if (where === 'evaluation') {
      m.evaluation = { ...((m.evaluation as Json) ?? {}), [key]: 1 };
      return { input: m, path: `evaluation.${key}` };
    }
    if (where === 'class') {
      const classes = m.classes as (string | Json)[];
      const index = rng.int(0, classes.length - 1);
      const entry = classes[index]!;
      classes[index] = { ...(typeof entry === 'string' ? { name: entry } : entry), [key]: 1 };
      return { input: m, path: `classes[${index}].${key}` };
    }
    const list = items(m, 'train');
    const index = rng.int(0, list.length - 1);
    list[index]![key] = 1;
    return { input: m, path: `train.items[${index}].${key}` };
  },
  'duplicate class name': (m, rng) => {
    const classes = m.classes as (string | Json)[];
    const target = rng.int(1, classes.length - 1);
    const source = rng.int(0, target - 1);
    const name = typeof classes[source] === 'string' ? classes[source] : (classes[source] as Json).name;
    const objectForm = rng.chance(0.5);
    classes[target] = objectForm ? { name } : (name as string);
    return { input: m, path: objectForm ? `classes[${target}].name` : `classes[${target}]` };
  },
  'badly spaced class name': (m, rng) => {
    const classes = m.classes as (string | Json)[];
    const index = rng.int(0, classes.length - 1);
    const name = `${rng.pick([' ', '', '\t'])}${WORDS[0]}-${index}${rng.pick([' ', '\n', '\u0000 '])}`;
    const objectForm = rng.chance(0.5);
    classes[index] = objectForm ? { name } : name;
    return { input: m, path: objectForm ? `classes[${index}].name` : `classes[${index}]` };
  },
  'escaping or non-image path': (m, rng) => {
    const split = rng.pick(['train', 'test'] as const);
    const list = items(m, split).length > 0 ? items(m, split) : items(m, 'train');
    const name = list === items(m, split) ? split : 'train';
    const index = rng.int(0, list.length - 1);
    list[index]!.path = rng.pick(BAD_PATHS);
    return { input: m, path: `${name}.items[${index}].path` };
  },
  'bad label': (m, rng) => {
    const split = rng.pick(['train', 'test'] as const);
    const list = items(m, split).length > 0 ? items(m, split) : items(m, 'train');
    const name = list === items(m, split) ? split : 'train';
    const index = rng.int(0, list.length - 1);
    list[index]!.label = rng.pick<unknown>([classCount(m) + rng.int(0, 5), -1, 1.5, 'no-such-class', '', null, true]);
    return { input: m, path: `${name}.items[${index}].label` };
  },
  'class without training items': (m, rng) => {
    const label = rng.int(0, classCount(m) - 1);
    const classes = m.classes as (string | Json)[];
    const name = typeof classes[label] === 'string' ? classes[label] : (classes[label] as Json).name;
    (m.train as { items: Json[] }).items = items(m, 'train').filter((item) => item.label !== label && item.label !== name);
    return { input: m, path: `classes[${label}]` };
  },
  'two item forms': (m, rng) => {
    const split = rng.pick(['train', 'test']);
    (m[split] as Json)[rng.pick(['jsonl', 'list', 'shards'])] = 'x.txt';
    return { input: m, path: split };
  },
  'too few classes': (m) => {
    m.classes = [(m.classes as unknown[])[0]];
    return { input: m, path: 'classes' };
  },
  'bad run name': (m, rng) => {
    m.name = rng.pick(['', 'has space', '-leading', 'a/b', 'x'.repeat(129)]);
    return { input: m, path: 'name' };
  },
  'missing images': (m) => {
    delete m.images;
    return { input: m, path: 'images' };
  },
  'wrong version': (m, rng) => {
    m.version = rng.pick([0, 2, 1.5]);
    return { input: m, path: 'version' };
  },
  'group counts per class': (m) => {
    m.evaluation = { groupCounts: [1] };
    return { input: m, path: 'evaluation.groupCounts' };
  },
  'micro-batch above batch': (m) => {
    delete m.sweep;
    m.training = { ...((m.training as Json) ?? {}), batchSize: 32, microBatchSize: 64 };
    return { input: m, path: 'training.microBatchSize' };
  },
  'sweep too long': (m) => {
    m.sweep = Array.from({ length: 1001 }, () => ({}));
    return { input: m, path: 'sweep' };
  },
  'bad JSON syntax': (m, rng) => {
    const text = JSON.stringify(m, null, rng.pick([0, 2]));
    for (;;) {
      const edit = rng.pick(['truncate', 'trailing comma', 'single quote', 'garbage', 'drop colon']);
      let offset: number;
      let broken: string;
      if (edit === 'truncate') {
        offset = rng.int(0, text.length - 1);
        broken = text.slice(0, offset);
      } else if (edit === 'trailing comma') {
        offset = text.lastIndexOf('}', rng.int(1, text.length - 1));
        broken = `${text.slice(0, offset)},${text.slice(offset)}`;
      } else if (edit === 'single quote') {
        offset = text.indexOf('"', rng.int(0, text.length - 1));
        broken = offset < 0 ? text : `${text.slice(0, offset)}'${text.slice(offset + 1)}`;
      } else if (edit === 'garbage') {
        offset = rng.int(0, text.length);
        broken = `${text.slice(0, offset)}${rng.pick(['@', '}', ']', 'x', ':', '\u0001'])}${text.slice(offset)}`;
      } else {
        offset = text.indexOf(':', rng.int(0, text.length - 1));
        broken = offset < 0 ? text : `${text.slice(0, offset)} ${text.slice(offset + 1)}`;
      }
      try {
        JSON.parse(broken);
      } catch {
        return { input: broken, path: '', syntaxOffset: Math.max(0, offset) };
      }
    }
  },
  oversize: (m) => {
    const text = JSON.stringify(m);
    return { input: `${text}${' '.repeat(MAX_MANIFEST_BYTES - text.length + 1)}`, path: '' };
  },
};

export const MUTATION_KINDS = Object.keys(MUTATORS);

/** A mutation of a fresh valid manifest; text or value input alternates with the RNG. */
export function generateMutation(rng: Rng, kind: string): Mutation {
  const manifest = generateValidManifest(rng) as unknown as Json;
  const mutation = MUTATORS[kind]!(manifest, rng);
  const asText = typeof mutation.input !== 'string' && rng.chance(0.5);
  return { kind, ...mutation, input: asText ? JSON.stringify(mutation.input, null, 2) : mutation.input };
}
