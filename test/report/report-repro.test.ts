/**
 * The report of a reproduction sweep (a summary named by `sage repro`): the paper's row
 * labels, the paper's figure and the difference next to each of ours, the line on what
 * differs from the paper's set-up, the toy label, and the grids that have no figures.
 */
import { describe, expect, it } from 'vitest';
import type { Summary } from '../../src/contracts/summary';
import { buildReportModel, methodsTable, renderReportHtml, renderReportMarkdown, renderResultsCsv, RESULTS_CSV_COLUMNS } from '../../src/report';
import { reproMetrics as metricsFor, reproSummaryRow as summaryRow, sampleReproInput as table5Input } from './sample-report';

/** The markdown table's rows (after the caption), cells split. */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| Paper row'))
    .map((line) => line.slice(2, -2).split(' | '));
}

describe('the report of a reproduction sweep', () => {
  it("labels the runs with the paper's rows and sets the paper's figure and the difference beside each of ours", () => {
    const input = table5Input();
    const table = methodsTable(buildReportModel(input));
    const header = table.split('\n').find((line) => line.startsWith('| Paper row'))!;
    expect(header).toBe('| Paper row | Status | All | paper | Δ | Head | paper | Δ | Medium | paper | Δ | Tail | paper | Δ | Params (M) | Trainable (M) | Settings |');
    const rows = tableRows(table);
    expect(rows.map((r) => r[0])).toEqual(['none (LIFT)', 'SG', 'method-2', 'SG + Init + CF + FIT (Sage)']);
    // Ours, the paper's, the difference of the printed figures.
    expect(rows[0]!.slice(2, 14)).toEqual(['81.7', '81.7', '0.0', '85.2', '85.2', '0.0', '82.4', '82.4', '0.0', '76.7', '76.7', '0.0']);
    expect(rows[3]!.slice(2, 14)).toEqual(['83.9', '83.3', '+0.6', '86.1', '86.5', '-0.4', '82.8', '82.8', '0.0', '80.0', '80.0', '0.0']);
    // A failed run still shows the paper's figures; an edited entry has none.
    expect(rows[1]!.slice(1, 5)).toEqual(['FAILED', '–', '81.9', '–']);
    expect(rows[2]!.slice(2, 5)).toEqual(['–', '–', '–']);
    // The Settings column shows the whole entry, method included.
    expect(rows[1]!.at(-1)).toBe('method=lift, components.sg=true');
  });

  it("states what the reproduction is and how its set-up differs from the paper's", () => {
    const markdown = renderReportMarkdown(table5Input());
    expect(markdown).toContain("Reproduction of the paper's Table 5 (component ablations (SG, Init, CF, FIT) on CIFAR-100-LT), CIFAR-100-LT β = 100.");
    expect(markdown).toContain("Differs from the paper's set-up: epochs 2 (paper 10).");
    expect(markdown).not.toContain('toy');
    expect(markdown).toContain('## Notes on the reproduction');
    expect(markdown).toContain('PyTorch on an NVIDIA GeForce RTX 4080');
  });

  it('names the backend and the runs a difference concerns when it is not all of them', () => {
    const input = table5Input();
    input.metrics[1] = { ...input.metrics[1]!, backend: 'wasm', config: { ...input.metrics[1]!.config, tte: false } };
    const caption = methodsTable(buildReportModel(input)).split('\n')[1]!;
    expect(caption).toBe("Differs from the paper's set-up: epochs 2 (paper 10); tte false (paper true) [SG + Init + CF + FIT (Sage)]; backend wasm (CPU; the paper: PyTorch on a GPU) [SG + Init + CF + FIT (Sage)].");
  });

  it('labels a toy reproduction and leaves the differences out', () => {
    for (const input of [table5Input('repro-t5-cifar100-lt-r100-toy'), table5Input('repro-t5-cifar100-lt-r100', 24)]) {
      const model = buildReportModel(input);
      expect(model.repro!.toy).toBe(true);
      const table = methodsTable(model);
      expect(table).toMatch(/\(toy\)\.\ntoy: .*The paper's figures are shown for reference; they are not comparable here\./);
      expect(table).toContain('| Paper row | Status | All | paper | Head | paper | Medium | paper | Tail | paper | Params (M) | Trainable (M) | Settings |');
      expect(tableRows(table)[3]!.slice(2, 6)).toEqual(['83.9', '83.3', '86.1', '86.5']);
    }
    expect(buildReportModel(table5Input('repro-t5-cifar100-lt-r100', 24)).repro!.toyReasons).toEqual(['the runs have 24 classes, CIFAR-100-LT β = 100 has 100']);
  });

  it('has no paper column for a sensitivity grid, and quotes what the paper says of it', () => {
    const dataset = 'cifar100-lt-r50' as const;
    const runs = [0, 1].map((i) => metricsFor('alpha', dataset, i, { all: 0.84 + i / 100, head: 0.86, medium: 0.83, tail: 0.82 }));
    const summary: Summary = { version: 1, manifestName: 'repro-alpha-cifar100-lt-r50', updatedAt: 'now', rows: runs.map((m, i) => summaryRow('alpha', i, m)) };
    const markdown = renderReportMarkdown({ summary, metrics: runs });
    expect(markdown).toContain('| Paper row | Status | All | Head | Medium | Tail | Params (M) | Trainable (M) | Settings |');
    expect(tableRows(methodsTable(buildReportModel({ summary, metrics: runs }))).map((r) => r.slice(0, 3))).toEqual([
      ['α = 0', 'SUCCEEDED', '84.0'],
      ['α = 0.1', 'SUCCEEDED', '85.0'],
    ]);
    expect(markdown).toContain('The paper gives no figures for these rows (a plot only)');
    expect(markdown).toContain('best at α = 0.10');
    expect(markdown).not.toContain('Differs from');
  });

  it("writes the paper's row and figures as fractions into the last CSV columns", () => {
    const csv = renderResultsCsv(table5Input()).trimEnd().split('\n');
    // From the end: a quoted settings field with commas comes before them.
    expect(RESULTS_CSV_COLUMNS.slice(-8, -2)).toEqual(['paperTable', 'paperRow', 'paperAll', 'paperHead', 'paperMedium', 'paperTail']);
    expect(csv[1]!.split(',').slice(-8, -2)).toEqual(['Table 5', 'none (LIFT)', '0.817', '0.852', '0.824', '0.767']);
    expect(csv[3]!.split(',').slice(-8, -2)).toEqual(['', '', '', '', '', '']);
    // Added later, at the end: top-5 (none here) and the paper's Params (M), LIFT's adapters / 10^6.
    expect(RESULTS_CSV_COLUMNS.slice(-2)).toEqual(['accuracyTop5', 'paperParametersM']);
    expect(csv[1]!.split(',').slice(-2)).toEqual(['', String(1000 / 1e6)]);
  });

  it('renders the comparison in the HTML report with grouped headers and coloured differences', async () => {
    const html = await renderReportHtml(table5Input());
    expect(html).toContain('<table id="results-table" class="repro-table">');
    expect(html).toContain('<th class="group num" colspan="3">All</th>');
    expect(html).toContain('<td class="num delta up">+0.6</td>');
    expect(html).toContain('<td class="num delta down">-0.4</td>');
    expect(html).toContain('<div class="repro" id="repro">');
    expect(html).toContain('Differs from the paper&#39;s set-up: epochs 2 (paper 10).');
    const toy = await renderReportHtml(table5Input('repro-t5-cifar100-lt-r100-toy'));
    expect(toy).toContain('<div class="repro toy" id="repro"><p>');
    expect(toy).toContain('<span class="toy-label">toy</span>');
    expect(toy).not.toContain('class="num delta');
  });
});
