import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  classNames,
  formatProblems,
  itemSourceKind,
  Manifest,
  ManifestValidationError,
  parseManifest,
  resolveRunSettings,
  sweepSize,
} from '../../src/manifest';
import { manifestJsonSchemaText } from '../../src/manifest/json-schema';
import { PRESET_SETTINGS } from '../../src/contracts/settings';

const minimal = {
  version: 1,
  name: 'tiny',
  classes: ['cat', { name: 'dog', description: 'a domestic dog' }],
  images: 's3://data/images/',
  train: { items: [{ path: 'cat/1.png', label: 0 }, { path: 'dog/1.jpg', label: 'dog' }] },
  test: { jsonl: 'test.jsonl' },
  weights: 's3://artifacts/weights/clip/',
};

describe('manifest schema', () => {
  it('accepts a minimal manifest with mixed class forms and reads the class names in order', () => {
    const result = parseManifest(JSON.stringify(minimal));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(classNames(result.manifest)).toEqual(['cat', 'dog']);
    expect(itemSourceKind(result.manifest.train)).toBe('items');
    expect(itemSourceKind(result.manifest.test)).toBe('jsonl');
  });

  it('allows a $schema field for editors and a byte-order mark', () => {
    const result = parseManifest(`\uFEFF${JSON.stringify({ $schema: './schema/manifest.schema.json', ...minimal })}`);
    expect(result.ok).toBe(true);
  });

  it('accepts each of the four item source forms and refuses two at once', () => {
    for (const source of [{ items: [] }, { jsonl: 'a.jsonl' }, { list: 'a.txt' }, { shards: 'shards/index.json' }]) {
      expect(Manifest.safeParse({ ...minimal, test: source }).success).toBe(true);
    }
    const result = parseManifest(JSON.stringify({ ...minimal, test: { jsonl: 'a.jsonl', list: 'a.txt' } }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]!.path).toBe('test');
    expect(result.problems[0]!.message).toContain('expected exactly one of');
    expect(result.problems[0]!.message).toContain('jsonl, list');
  });

  it('reports a syntax error with its line and column', () => {
    const text = '{\n  "version": 1,\n  "name": "x"\n  "classes": []\n}';
    const result = parseManifest(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      { path: '', message: 'invalid JSON: expected \',\' or \'}\' after the value of "name", got "\\""', line: 4, column: 3, code: 'syntax' },
    ]);
  });

  it('gives schema problems the line and column of the field in the text', () => {
    const text = JSON.stringify({ ...minimal, training: { alpha: 3 } }, null, 2);
    const result = parseManifest(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const lines = text.split('\n');
    const expectedLine = lines.findIndex((line) => line.includes('"alpha"')) + 1;
    expect(result.problems).toEqual([
      { path: 'training.alpha', message: 'expected a number <= 1, got 3', line: expectedLine, column: 5, code: 'schema' },
    ]);
  });

  it('names a missing required field and an unknown one at their own paths', () => {
    const { weights: _weights, ...withoutWeights } = minimal;
    const result = parseManifest(JSON.stringify({ ...withoutWeights, wieghts: 'x' }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const byPath = Object.fromEntries(result.problems.map((p) => [p.path, p]));
    expect(byPath.weights!.code).toBe('missing-field');
    expect(byPath.weights!.message).toBe('missing required field "weights" (expected a string)');
    expect(byPath.wieghts!.code).toBe('unknown-field');
    expect(byPath.wieghts!.message).toMatch(/^unknown field "wieghts"; expected only: \$schema, version, kind, name/);
  });

  it('describes a class entry of the wrong type by both accepted forms', () => {
    const result = parseManifest(JSON.stringify({ ...minimal, classes: ['cat', 7] }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => [p.path, p.message])).toEqual([['classes[1]', 'expected a string or an object, got 7']]);
  });
});

describe('run settings from a manifest', () => {
  it('layers defaults, preset, training and the sweep entry', () => {
    const manifest = Manifest.parse({
      ...minimal,
      training: { preset: 'places-lt', epochs: 3 },
      sweep: [{ method: 'lift' }, { learningRate: 0.02, alpha: 0.3 }],
    });
    expect(sweepSize(manifest)).toBe(2);
    const lift = resolveRunSettings(manifest, 0);
    expect(lift.method).toBe('lift');
    expect(lift.components).toEqual({ sg: false, init: false, cf: false, fit: false });
    expect(lift.alpha).toBe(PRESET_SETTINGS['places-lt'].alpha);
    expect(lift.epochs).toBe(3);
    const second = resolveRunSettings(manifest, 1);
    expect(second.method).toBe('sage');
    expect(second.learningRate).toBe(0.02);
    expect(second.alpha).toBe(0.3);
    expect(() => resolveRunSettings(manifest, 2)).toThrow('expected a sweep index in [0, 1], got 2');
  });

  it('counts one run without a sweep', () => {
    const manifest = Manifest.parse(minimal);
    expect(sweepSize(manifest)).toBe(1);
    expect(resolveRunSettings(manifest, 0).epochs).toBe(10);
  });
});

describe('problem reports', () => {
  it('formats one line per problem with its location', () => {
    const text = formatProblems([
      { path: 'train.txt:17', message: 'expected a class index in [0, 9], got 12', line: 17 },
      { path: '', message: 'invalid JSON: x', line: 2, column: 5 },
    ]);
    expect(text).toBe('train.txt:17 (line 17): expected a class index in [0, 9], got 12\n(manifest) (line 2, column 5): invalid JSON: x');
  });

  it('carries every problem in ManifestValidationError', () => {
    const problems = [{ path: 'name', message: 'expected a name, got ""' }];
    const error = new ManifestValidationError(problems, 's3://data/manifests/a.json');
    expect(error.name).toBe('ManifestValidationError');
    expect(error.problems).toEqual(problems);
    expect(error.message).toBe('the manifest s3://data/manifests/a.json is invalid (1 problem):\nname: expected a name, got ""');
  });
});

describe('generated JSON Schema', () => {
  it('is committed up to date (run npx tsx scripts/gen-manifest-schema.ts)', async () => {
    const committed = await readFile(path.join(import.meta.dirname, '..', '..', 'schema', 'manifest.schema.json'), 'utf8');
    expect(committed).toBe(manifestJsonSchemaText());
  });

  it('describes the required fields, the split forms and the shared settings ranges, for both kinds of manifest', () => {
    const document = JSON.parse(manifestJsonSchemaText()) as {
      anyOf: { required: string[]; additionalProperties: boolean; properties: { kind: { const?: string } } }[];
      $defs: { ItemSource: { anyOf: { required: string[] }[] }; SettingsOverrides: { properties: Record<string, { minimum?: number; maximum?: number }> } };
    };
    const [training, predict] = document.anyOf;
    const schema = training!;
    expect(schema.required).toEqual(['version', 'name', 'classes', 'train', 'test', 'weights']);
    expect(schema.additionalProperties).toBe(false);
    expect(predict!.required).toEqual(['version', 'kind', 'name', 'adapter', 'weights', 'images']);
    expect(predict!.properties.kind.const).toBe('predict');
    expect(document.$defs.ItemSource.anyOf.map((form) => form.required)).toEqual([['items'], ['jsonl'], ['list'], ['shards']]);
    expect(document.$defs.SettingsOverrides.properties.alpha).toMatchObject({ minimum: 0, maximum: 1 });
  });
});

describe('docs/manifest.md', () => {
  it('shows an inline example that is a valid manifest', async () => {
    const docs = await readFile(path.join(import.meta.dirname, '..', '..', 'docs', 'manifest.md'), 'utf8');
    const blocks = [...docs.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1]!);
    const inline = blocks.find((block) => block.includes('"items"') && !block.includes('...'));
    expect(inline).toBeDefined();
    const result = parseManifest(inline!);
    expect(result.ok ? [] : result.problems).toEqual([]);
  });
});
