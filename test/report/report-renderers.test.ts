import { describe, expect, it } from 'vitest';
import { RESULTS_CSV_COLUMNS, renderReportHtml, renderReportMarkdown, renderResultsCsv } from '../../src/report';
import { SAMPLE_ACCURACY, SAMPLE_CLASSES, sampleMetrics, sampleReportInput } from './sample-report';

/** Mean per-class accuracy of the classes whose training count passes `keep`, in [0, 1]. */
function expectedMean(method: string, keep: (count: number) => boolean): number {
  const values = SAMPLE_ACCURACY[method]!.filter((_, i) => keep(SAMPLE_CLASSES[i]!.trainCount));
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function expectedPercent(method: string, keep: (count: number) => boolean): string {
  return (expectedMean(method, keep) * 100).toFixed(1);
}

function markdownRows(markdown: string, firstHeader: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${firstHeader} |`));
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(lines[i]!.slice(2, -2).split(' | '));
  }
  return rows;
}

/** Minimal RFC 4180 reader for the test: quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let field = '';
  let row: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted && ch === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (ch === '"') {
      quoted = !quoted;
    } else if (!quoted && (ch === ',' || ch === '\n')) {
      row.push(field);
      field = '';
      if (ch === '\n') {
        rows.push(row);
        row = [];
      }
    } else {
      field += ch;
    }
  }
  return rows;
}

const all = (): boolean => true;
const head = (n: number): boolean => n > 100;
const medium = (n: number): boolean => n >= 20 && n <= 100;
const tail = (n: number): boolean => n < 20;

describe('renderReportMarkdown', () => {
  it('prints all / head / medium / tail accuracy per method equal to the per-class means', () => {
    const rows = markdownRows(renderReportMarkdown(sampleReportInput()), 'Method');
    expect(rows.map((r) => r[0])).toEqual(['zero-shot', 'lift', 'sage #2', 'sage #3']);
    for (const [i, method] of ['zero-shot', 'lift', 'sage'].entries()) {
      expect(rows[i]!.slice(1, 6)).toEqual(['SUCCEEDED', expectedPercent(method, all), expectedPercent(method, head), expectedPercent(method, medium), expectedPercent(method, tail)]);
    }
    expect(rows[3]!.slice(1, 6)).toEqual(['FAILED', '–', '–', '–', '–']);
  });

  it('lists failed runs with their reason and prints one per-class row per class', () => {
    const markdown = renderReportMarkdown(sampleReportInput());
    expect(markdown).toContain('**sage #3** (run-1/3): Essential container exited with code 1, "out of memory"');
    const perClass = markdownRows(markdown, '#');
    expect(perClass).toHaveLength(SAMPLE_CLASSES.length);
    expect(perClass[5]).toEqual(['5', 'fox', '15', 'tail', '40.0', '40.0', '60.0']);
  });

  it('falls back to the summary row values when a metrics document is missing, and escapes pipes', () => {
    const input = sampleReportInput();
    input.metrics = [];
    input.summary.rows[0]!.method = 'a|b';
    const rows = markdownRows(renderReportMarkdown(input), 'Method');
    expect(rows[0]![0]).toBe('a\\|b');
    expect(rows[1]![2]).toBe(expectedPercent('lift', all));
    expect(renderReportMarkdown(input)).not.toContain('Per-class accuracy');
  });

  it('tells repeated methods from different runs apart by run id and sweep index', () => {
    const input = sampleReportInput();
    const second = sampleMetrics('lift', 0, 'run-2');
    input.metrics.push(second);
    input.summary.rows.push({ runId: 'run-2', sweepIndex: 0, status: 'SUCCEEDED', method: 'lift', overrides: {} });
    const labels = markdownRows(renderReportMarkdown(input), 'Method').map((r) => r[0]);
    expect(labels).toEqual(['zero-shot', 'lift (run-1 #1)', 'sage (run-1 #2)', 'sage (run-1 #3)', 'lift (run-2 #0)']);
  });
});

describe('renderResultsCsv', () => {
  it('writes a header and one row per run with accuracies as fractions and quoted reasons', () => {
    const rows = parseCsv(renderResultsCsv(sampleReportInput()));
    expect(rows[0]).toEqual([...RESULTS_CSV_COLUMNS]);
    expect(rows).toHaveLength(5);
    const column = (name: (typeof RESULTS_CSV_COLUMNS)[number]): number => RESULTS_CSV_COLUMNS.indexOf(name);
    const sage = rows[3]!;
    expect(sage[column('method')]).toBe('sage');
    expect(Number(sage[column('accuracyAll')])).toBeCloseTo(expectedMean('sage', all), 9);
    expect(Number(sage[column('accuracyTail')])).toBeCloseTo(0.5, 9);
    expect(sage[column('settings')]).toBe('alpha=0.1, components.fit=true');
    const failed = rows[4]!;
    expect(failed[column('status')]).toBe('FAILED');
    expect(failed[column('accuracyAll')]).toBe('');
    expect(failed[column('reason')]).toBe('Essential container exited with code 1, "out of memory"');
  });
});

describe('renderReportHtml', () => {
  it('embeds three SVG charts and both tables in a page with no script and no external resource', async () => {
    const html = await renderReportHtml(sampleReportInput());
    expect(html.match(/<figure class="chart" data-chart="(groups|per-class|curves)">\s*<svg/g)).toHaveLength(3);
    expect(html).toContain('<table id="results-table">');
    expect(html).toContain('<table id="per-class-table">');
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
  });

  it('escapes names so a class called <script> stays text', async () => {
    const input = sampleReportInput();
    for (const m of input.metrics) m.perClass[0]!.name = '<script>alert(1)</script>';
    const html = await renderReportHtml(input);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('leaves out the charts that have no data, such as curves when only zero-shot ran', async () => {
    const input = sampleReportInput();
    input.metrics = [input.metrics[0]!];
    input.summary.rows = [input.summary.rows[0]!];
    const html = await renderReportHtml(input);
    expect(html).toContain('data-chart="groups"');
    expect(html).toContain('data-chart="per-class"');
    expect(html).not.toContain('data-chart="curves"');
  });
});

describe('report.md with hostile names, diverged and running runs', () => {
  it('escapes HTML in class, run and manifest names, as report.html does', () => {
    const input = sampleReportInput();
    const hostile = '<img src=x onerror=alert(1)>';
    input.summary = { ...input.summary, manifestName: `<b>${hostile}</b>`, rows: input.summary.rows.map((row, i) => (i === 0 ? { ...row, method: hostile, status: 'FAILED' as const, reason: `died: ${hostile}` } : row)) };
    input.metrics = input.metrics.map((m) => ({ ...m, perClass: m.perClass.map((c, i) => (i === 0 ? { ...c, name: hostile } : c)) }));
    const markdown = renderReportMarkdown(input);
    expect(markdown).not.toContain('<img');
    expect(markdown).not.toContain('<b>');
    expect(markdown).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(markdown).toContain('# Sage report: &lt;b&gt;');
  });

  it('marks a diverged run in the table and says why, and shows where a running run stands', async () => {
    const input = sampleReportInput();
    input.metrics = input.metrics.map((m, i) => (i === 1 ? { ...m, diverged: { epoch: 2, step: 7, loss: 41.5, reference: 3.9, factor: 10 } } : m));
    const progress = { epoch: 2, epochs: 10, step: 40, stepsPerEpoch: 85, updatedAt: '2026-12-01T10:00:00.000Z' };
    input.summary = { ...input.summary, rows: [...input.summary.rows, { runId: 'run-2', sweepIndex: 0, status: 'RUNNABLE' as const, method: 'lift', overrides: {}, progress }] };
    const markdown = renderReportMarkdown(input);
    const rows = markdownRows(markdown, 'Method');
    expect(rows[1]![1]).toBe('SUCCEEDED (diverged)');
    expect(rows.at(-1)![1]).toBe('RUNNING (between attempts: Batch RUNNABLE; epoch 3/10, step 40/85)');
    expect(markdown).toContain('## Diverged runs');
    expect(markdown).toMatch(/reached 41\.50 at epoch 2, step 7, more than 10× the first step's 3\.900/);
    const html = await renderReportHtml(input);
    expect(html).toContain('<h2>Diverged runs</h2>');
    expect(html).toContain('succeeded (diverged)');
  });
});
