/**
 * The paper's figures in src/repro/paper.ts against the paper's own text: every recorded row
 * is found as a line of ../shared/paper/sage-paper.txt carrying exactly its numbers, and the
 * CIFAR-100-LT rows are consistent with their class groups (All = the groups' class-weighted
 * mean), which would catch a digit copied into the wrong cell.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PaperDataset } from '../../src/repro/datasets';
import { PAPER_CELLS, PAPER_METRICS, paperFigures, type PaperTableNumber } from '../../src/repro/paper';
import { REPRO_TABLES } from '../../src/repro/tables';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PAPER = path.resolve(repoRoot, '..', 'shared', 'paper', 'sage-paper.txt');
const hasPaper = existsSync(PAPER);
if (!hasPaper) console.warn(`skipping the paper-text checks: no ${PAPER}`);

/** The datasets of each table in the paper's column order. */
const COLUMNS: Record<PaperTableNumber, readonly PaperDataset[]> = {
  1: ['cifar100-lt-r100', 'cifar100-lt-r50', 'cifar100-lt-r10'],
  2: ['places-lt'],
  3: ['imagenet-lt'],
  4: ['inat2018'],
  5: ['cifar100-lt-r100', 'cifar100-lt-r50', 'cifar100-lt-r10'],
  6: ['imagenet-lt', 'places-lt', 'inat2018'],
  7: ['cifar100-lt-r100', 'cifar100-lt-r50', 'cifar100-lt-r10'],
  10: ['cifar100-lt-r100', 'cifar100-lt-r50', 'cifar100-lt-r10'],
  11: ['imagenet-lt', 'places-lt', 'inat2018'],
};

/** How the row's line starts in the text, where it has a label (Tables 5-6 mark rows with check marks only). */
function textLabel(table: PaperTableNumber, row: string): string | undefined {
  if (table === 5 || table === 6) return undefined;
  if (row === 'LIFT') return 'LIFT (Shi et al., 2024)';
  if (row === '+ SG-Adapter (w/o W_proj)') return '+ SG-Adapter (w/o';
  return row;
}

/** The row's figures as the text prints them, in column order ("0.0" for an empty group). */
function expectedNumbers(table: PaperTableNumber, row: string): string[] {
  return COLUMNS[table].flatMap((dataset) => {
    const figures = paperFigures(table, row, dataset)!;
    expect(figures, `${table} ${row} ${dataset}`).toBeDefined();
    return PAPER_METRICS.filter((m) => figures[m] !== 'not-reported').map((m) => {
      const value = figures[m];
      return value === 'empty-group' ? '0.0' : (value as number).toFixed(1);
    });
  });
}

function rowsOf(): { table: PaperTableNumber; row: string }[] {
  const seen = new Map<string, { table: PaperTableNumber; row: string }>();
  for (const cell of PAPER_CELLS) seen.set(`${cell.table}|${cell.row}`, { table: cell.table, row: cell.row });
  return [...seen.values()];
}

describe.skipIf(!hasPaper)('the paper figures against the paper text', () => {
  const lines = hasPaper ? readFileSync(PAPER, 'utf8').split('\n') : [];
  const decimals = (line: string): string[] => line.match(/\d+\.\d+/g) ?? [];
  // "$+$ SG-Adapter" in Table 11's LaTeX reads "+ SG-Adapter".
  const plain = (line: string): string => line.replace(/\$/g, '').trimStart();

  it.each(rowsOf())('Table $table, row "$row": one line of the text carries exactly these figures', ({ table, row }) => {
    const expected = expectedNumbers(table, row);
    const label = textLabel(table, row);
    // Tables 1-4 lead with the parameter count (0.10M): only the trailing figures are the accuracies.
    const found = lines.filter((line) => {
      const numbers = decimals(line);
      const tail = table <= 4 ? numbers.slice(-expected.length) : numbers;
      return (label === undefined || plain(line).startsWith(label)) && tail.join(' ') === expected.join(' ') && (table <= 4 || numbers.length === expected.length);
    });
    expect(found.length, `no line of the paper has ${label ?? '(check marks)'} ${expected.join(' ')}`).toBeGreaterThanOrEqual(1);
  });
});

describe('the paper figures', () => {
  it("are consistent on CIFAR-100-LT: All is the class-weighted mean of the groups, to the paper's rounding", () => {
    // Class i keeps floor(500 β^(-i/99)) images; head > 100, medium 20-100, tail < 20. Every
    // CIFAR table groups by β = 100's counts (35 / 35 / 30) except Table 7, which groups by each β's own.
    // `headFrom`: the smallest head count. SPEC's head is > 100; Table 7's β = 10 figures fit only
    // 70 head classes, which counts class 69 (exactly 100 images) as head: ≥ 100.
    const groups = (beta: number, headFrom = 101): [number, number, number] => {
      const counts = Array.from({ length: 100 }, (_, i) => Math.floor(500 * beta ** (-i / 99)));
      return [counts.filter((n) => n >= headFrom).length, counts.filter((n) => n >= 20 && n < headFrom).length, counts.filter((n) => n < 20).length];
    };
    expect(groups(100)).toEqual([35, 35, 30]);
    expect(groups(50)).toEqual([41, 41, 18]);
    expect([groups(10), groups(10, 100)]).toEqual([
      [69, 31, 0],
      [70, 30, 0],
    ]);
    const weighted = (f: ReturnType<typeof paperFigures>, [head, medium, tail]: [number, number, number]): number => {
      const value = (v: unknown): number => (typeof v === 'number' ? v : 0);
      return (head * value(f!.head) + medium * value(f!.medium) + tail * value(f!.tail)) / 100;
    };
    // Each printed figure is rounded to 0.05, so All and the weighted mean may differ by 0.1.
    const fits = (f: ReturnType<typeof paperFigures>, split: [number, number, number]): boolean => Math.abs(weighted(f, split) - (f!.all as number)) <= 0.1 + 1e-9;
    const onBeta100Split: string[] = [];
    let checked = 0;
    for (const { table, row } of rowsOf()) {
      for (const dataset of COLUMNS[table].filter((d) => d.startsWith('cifar'))) {
        const f = paperFigures(table, row, dataset)!;
        if (f.head === 'not-reported') continue;
        const own = groups(Number(dataset.replace('cifar100-lt-r', '')), 100);
        const split = table === 7 ? own : groups(100);
        expect(f.tail === 'empty-group', `${table} ${row} ${dataset}: an empty tail exactly where there is no tail class`).toBe(split[2] === 0);
        if (table === 7 && !fits(f, own) && fits(f, groups(100))) onBeta100Split.push(`${row} ${dataset}`);
        else expect(fits(f, split), `Table ${table} ${row} ${dataset}: ${weighted(f, split).toFixed(3)} vs ${String(f.all)}`).toBe(true);
        checked += 1;
      }
    }
    expect(checked).toBe(3 * (5 + 2 + 3));
    // The paper's own inconsistency: this one row of Table 7 fits β = 100's grouping, not β = 50's.
    expect(onBeta100Split).toEqual(['CE cifar100-lt-r50']);
  });

  it('cover every row of the catalogue the paper prints, on every dataset of its table, and nothing else', () => {
    const expected = new Set<string>();
    for (const table of REPRO_TABLES) {
      for (const row of table.rows.filter((r) => r.inPaper)) {
        for (const dataset of table.datasets) {
          expect(paperFigures(table.tableNumber!, row.label, dataset), `${table.source} ${row.label} ${dataset}`).toBeDefined();
          expected.add(`${table.tableNumber}|${row.label}|${dataset}`);
        }
      }
    }
    const recorded = new Set(PAPER_CELLS.map((c) => `${c.table}|${c.row}|${c.dataset}`));
    expect([...recorded].sort()).toEqual([...expected].sort());
  });

  it('quote the reference results of SPEC section 2 for LIFT and Sage', () => {
    const spec: [PaperDataset, number, number][] = [
      ['cifar100-lt-r100', 81.7, 83.3],
      ['cifar100-lt-r50', 83.1, 84.6],
      ['cifar100-lt-r10', 84.9, 86.3],
      ['imagenet-lt', 78.3, 78.8],
      ['places-lt', 52.2, 52.7],
      ['inat2018', 80.4, 80.9],
    ];
    const tableOf = (d: PaperDataset): PaperTableNumber => (d.startsWith('cifar') ? 1 : d === 'places-lt' ? 2 : d === 'imagenet-lt' ? 3 : 4);
    for (const [dataset, lift, sage] of spec) {
      expect(paperFigures(tableOf(dataset), 'LIFT', dataset)!.all).toBe(lift);
      expect(paperFigures(tableOf(dataset), 'Sage', dataset)!.all).toBe(sage);
    }
  });
});
