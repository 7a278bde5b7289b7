/**
 * The reproduction catalogue: each row resolves to the settings the paper's row describes,
 * the names round-trip, the dataset of a prepared manifest is found or refused, and the
 * written manifest is one the pipeline accepts.
 */
import { describe, expect, it } from 'vitest';
import { methodLabel, resolveSettings, type Settings } from '../../src/contracts/settings';
import { resolveRunSettings, sweepSize } from '../../src/manifest/run-settings';
import { Manifest } from '../../src/manifest/schema';
import { identifyDataset, ReproDatasetError } from '../../src/repro/identify';
import { buildReproManifest, ReproSettingsError } from '../../src/repro/manifest';
import { parseReproManifestName, reproManifestName } from '../../src/repro/name';
import { paperSettings, settingsDifferences } from '../../src/repro/setup';
import { findReproTable, REPRO_TABLES, type ReproTable } from '../../src/repro/tables';

function table(id: string): ReproTable {
  const found = findReproTable(id);
  if (!found) throw new Error(`no table ${id}`);
  return found;
}

function rowSettings(id: string, dataset = table(id).datasets[0]!): Settings[] {
  return table(id).rows.map((row) => paperSettings(row, dataset));
}

describe('the tables as sweeps', () => {
  it('Tables 5 and 6 switch SG, Init, CF and FIT on one after another, from LIFT to Sage', () => {
    for (const id of ['5', '6']) {
      const settings = rowSettings(id);
      expect(settings.map((s) => methodLabel(s))).toEqual(['lift', 'lift+sg', 'lift+sg+init', 'lift+sg+init+cf', 'sage']);
      expect(settings.every((s) => s.loss === 'la' && s.sgProjection)).toBe(true);
    }
  });

  it("Tables 10 and 11 compare AdaptFormer, the SG-Adapter and the SG-Adapter without W_proj, all with Init and CF and no FIT", () => {
    for (const id of ['10', '11']) {
      const settings = rowSettings(id);
      expect(settings.map((s) => [methodLabel(s), s.sgProjection])).toEqual([
        ['lift+init+cf', true],
        ['lift+sg+init+cf', true],
        ['lift+sg+init+cf', false],
      ]);
    }
  });

  it("Table 7 trains with the plain CE loss, once without and once with CF, then LIFT's LA loss likewise (rows the paper's table has not)", () => {
    expect(rowSettings('7').map((s) => [s.loss, s.tau, s.components.cf, s.components.sg])).toEqual([
      ['ce', 1, false, false],
      ['ce', 1, true, false],
      ['la', 1, false, false],
      ['la', 1, true, false],
    ]);
    expect(table('7').rows.map((row) => [row.label, row.inPaper])).toEqual([
      ['CE', true],
      ['CE + CF', true],
      ['LA', false],
      ['LA + CF', false],
    ]);
    expect(table('7').grouping).toBe('own counts');
  });

  it("Tables 1-4 run zero-shot CLIP, LIFT and Sage with each dataset's Table 8 preset", () => {
    const inat = rowSettings('4', 'inat2018');
    expect(inat.map((s) => s.method)).toEqual(['zero-shot', 'lift', 'sage']);
    expect(inat[2]).toMatchObject({ alpha: 1, gamma: 0.085, lambda3: 1e-7, epochs: 20, tte: true });
    expect(rowSettings('1', 'cifar100-lt-r50')[2]).toMatchObject({ alpha: 0.1, gamma: 0.06, lambda1: 0.0001, lambda2: 0.01, lambda3: 0.6, epochs: 10 });
    expect(table('1').rows[0]!.inPaper).toBe(false);
  });

  it('the sensitivity grids vary one parameter over the paper\'s range on β = 50, with FIT for the λs only', () => {
    const expected: Record<string, { values: number[]; fit: boolean }> = {
      alpha: { values: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], fit: false },
      gamma: { values: [0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09], fit: false },
      mu: { values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1], fit: false },
      lambda1: { values: [0, 0.0001, 0.0002, 0.0003, 0.0004, 0.0005], fit: true },
      lambda2: { values: [0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045], fit: true },
      lambda3: { values: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1], fit: true },
    };
    for (const [parameter, { values, fit }] of Object.entries(expected)) {
      const grid = table(parameter);
      expect(grid.datasets).toEqual(['cifar100-lt-r50']);
      expect(grid.metrics).toEqual([]);
      const settings = rowSettings(parameter);
      expect(settings.map((s) => s[parameter as keyof Settings])).toEqual(values);
      expect(settings.every((s) => s.components.fit === fit && s.components.sg && s.components.cf)).toBe(true);
      // Everything else is the β = 50 preset.
      const preset = resolveSettings({ preset: 'cifar100-lt-r50' });
      for (const s of settings) for (const key of ['alpha', 'gamma', 'mu', 'lambda1', 'lambda2', 'lambda3'] as const) if (key !== parameter) expect(s[key]).toBe(preset[key]);
    }
  });

  it('finds a table by "5", "t5" or "Table 5", and no other', () => {
    expect(['5', 't5', 'Table 5', 'table5'].map((n) => findReproTable(n)?.id)).toEqual(['5', '5', '5', '5']);
    expect(findReproTable('8')).toBeUndefined();
    expect(findReproTable('lambda4')).toBeUndefined();
    expect(new Set(REPRO_TABLES.map((t) => t.id)).size).toBe(REPRO_TABLES.length);
  });
});

describe('reproduction manifest names', () => {
  it('round-trip table, dataset, toy and tag, and are safe run names', () => {
    const cases = [
      { table: '5', dataset: 'cifar100-lt-r10' as const, toy: false },
      { table: '11', dataset: 'inat2018' as const, toy: true, tag: 'seed-2' },
      { table: 'lambda3', dataset: 'cifar100-lt-r50' as const, toy: false },
    ];
    for (const name of cases) {
      const text = reproManifestName(name);
      expect(text).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
      expect(parseReproManifestName(text)).toEqual(name);
    }
    expect(reproManifestName(cases[0]!)).toBe('repro-t5-cifar100-lt-r10');
  });

  it('are not found in other names, nor for a dataset the table has no rows for', () => {
    for (const name of ['demo', 'cifar100-lt-r100', 'repro-t8-cifar100-lt-r100', 'repro-t5-imagenet-lt', 'repro-t5-cifar100-lt-r100-toys', 'xrepro-t5-cifar100-lt-r100']) {
      expect(parseReproManifestName(name), name).toBeUndefined();
    }
  });
});

describe('identifyDataset', () => {
  const cifar = (ratio: number): number[] => Array.from({ length: 100 }, (_, i) => Math.floor(500 * ratio ** (-i / 99)));

  it('takes the flag, then the preset, then the name, then the class count and CIFAR\'s imbalance ratio', () => {
    const t5 = table('5');
    expect(identifyDataset(t5, { name: 'x', classes: 100, preset: 'cifar100-lt-r50' }, 'cifar100-lt-r10')).toMatchObject({ dataset: 'cifar100-lt-r10', source: 'flag', toy: false });
    expect(identifyDataset(t5, { name: 'x', classes: 100, preset: 'cifar100-lt-r50' })).toMatchObject({ dataset: 'cifar100-lt-r50', source: 'preset' });
    expect(identifyDataset(t5, { name: 'my-cifar100-lt-r10', classes: 100 })).toMatchObject({ dataset: 'cifar100-lt-r10', source: 'name' });
    expect(identifyDataset(t5, { name: 'x', classes: 100, trainCounts: cifar(50) })).toMatchObject({ dataset: 'cifar100-lt-r50', source: 'classes', toy: false });
    expect(identifyDataset(table('6'), { name: 'x', classes: 365 })).toMatchObject({ dataset: 'places-lt', source: 'classes' });
  });

  it("makes any other dataset a toy run with the table's first dataset", () => {
    const found = identifyDataset(table('6'), { name: 'procedural-lt-20', classes: 24, trainCounts: [200, 10] });
    expect(found).toMatchObject({ dataset: 'imagenet-lt', source: 'toy default', toy: true });
    expect(found.toyReasons).toEqual(['the dataset has 24 classes, ImageNet-LT has 1000']);
    // A paper dataset chosen for data that is not it is a toy too.
    expect(identifyDataset(table('7'), { name: 'demo', classes: 24 }, 'cifar100-lt-r50')).toMatchObject({ dataset: 'cifar100-lt-r50', toy: true });
  });

  it('refuses a dataset the table has no rows for, naming those it has', () => {
    const refuse = (): unknown => identifyDataset(table('2'), { name: 'cifar100-lt-r100', classes: 100, preset: 'cifar100-lt-r100' });
    expect(refuse).toThrow(ReproDatasetError);
    expect(refuse).toThrow('Table 2 has rows for places-lt, not cifar100-lt-r100 (the manifest "cifar100-lt-r100" by its training.preset). Choose another table, or --table-dataset with one of: places-lt');
    try {
      identifyDataset(table('10'), { name: 'demo', classes: 24 }, 'imagenet-lt');
    } catch (error) {
      expect((error as ReproDatasetError).valid).toEqual(['cifar100-lt-r100', 'cifar100-lt-r50', 'cifar100-lt-r10']);
    }
    expect.assertions(3);
  });
});

describe('buildReproManifest', () => {
  const prepared: Manifest = {
    $schema: '../schema/manifest.schema.json',
    version: 1,
    name: 'cifar100-lt-r50',
    classes: ['apple', 'bee', 'camel'],
    images: 'images',
    train: { jsonl: 'train.jsonl' },
    test: { jsonl: 'test.jsonl' },
    weights: 's3://bucket/clip',
    training: { preset: 'cifar100-lt-r50', epochs: 3, microBatchSize: 16 },
    sweep: [{ method: 'lift' }],
    evaluation: { groupCounts: [500, 100, 5] },
  };

  it("keeps the data, puts the preset and the changes in training, one entry per row, and the repro marker", () => {
    const t10 = table('10');
    const manifest = buildReproManifest(prepared, { table: t10, dataset: 'cifar100-lt-r50', toy: false, changes: { epochs: 2 } });
    expect(Manifest.safeParse(manifest).success).toBe(true);
    expect(manifest).toMatchObject({ name: 'repro-t10-cifar100-lt-r50', classes: prepared.classes, train: prepared.train, weights: prepared.weights, evaluation: prepared.evaluation });
    expect(manifest.$schema).toBeUndefined();
    expect(manifest.training).toEqual({ preset: 'cifar100-lt-r50', epochs: 2 });
    expect(manifest.sweep).toEqual(t10.rows.map((r) => r.overrides));
    expect(manifest.repro).toEqual({ table: '10', dataset: 'cifar100-lt-r50', toy: false, rows: ['Baseline', '+ SG-Adapter', '+ SG-Adapter (w/o W_proj)'] });
    expect(sweepSize(manifest)).toBe(3);
    expect(resolveRunSettings(manifest, 2)).toMatchObject({ sgProjection: false, epochs: 2, gamma: 0.06, tte: true });
    // The entries are copies: editing the manifest cannot change the catalogue.
    (manifest.sweep![0]!.components as Record<string, boolean>).sg = true;
    expect(t10.rows[0]!.overrides.components).toEqual({ init: true, cf: true });
  });

  it("drops the group counts for Table 7, which groups by each β's own counts", () => {
    const manifest = buildReproManifest(prepared, { table: table('7'), dataset: 'cifar100-lt-r50', toy: false });
    expect(manifest.evaluation).toBeUndefined();
  });

  it('refuses changes to what the rows and the dataset set', () => {
    expect(() => buildReproManifest(prepared, { table: table('5'), dataset: 'cifar100-lt-r50', toy: false, changes: { method: 'sage', preset: 'places-lt' } })).toThrow(ReproSettingsError);
    expect(() => buildReproManifest(prepared, { table: table('5'), dataset: 'cifar100-lt-r50', toy: false, changes: { components: { fit: false } } })).toThrow(/got components/);
  });
});

describe('settingsDifferences', () => {
  it("names every setting a run changed from the paper's, but not the seed or the micro-batch", () => {
    const paper = paperSettings(table('5').rows[4]!, 'cifar100-lt-r100');
    const used = { ...paper, epochs: 2, tte: false, seed: 7, microBatchSize: 8, components: { ...paper.components, fit: false }, engine: { resumedFrom: null } };
    expect(settingsDifferences(used, paper)).toEqual(['components.fit false (paper true)', 'epochs 2 (paper 10)', 'tte false (paper true)']);
    expect(settingsDifferences({ ...paper }, paper)).toEqual([]);
  });
});
