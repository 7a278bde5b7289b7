/** `sage repro --list`: every table, its datasets and its rows with the settings each row sets. */
import { formatOverrides } from '../report';
import { PAPER_DATASET_INFO } from './datasets';
import { REPRO_TABLES, type ReproTable } from './tables';

function tableLines(table: ReproTable): string[] {
  const width = Math.max(...table.rows.map((r) => r.label.length));
  const lines = [
    `${table.id.padEnd(8)} ${table.source}: ${table.title}`,
    `         datasets: ${table.datasets.map((d) => `${d} (${PAPER_DATASET_INFO[d].title})`).join(', ')}`,
    ...table.rows.map((row) => `           ${row.label.padEnd(width)}  ${formatOverrides(row.overrides, { keepMethod: true })}${row.note ? `  [${row.note}]` : ''}`),
  ];
  if (table.notOurs.length > 0) lines.push(`         not ours (in the paper's table, not run here): ${table.notOurs.join(', ')}`);
  for (const note of table.notes) lines.push(`         note: ${note}`);
  return lines;
}

export function formatReproList(): string[] {
  return [
    "The paper's tables as sweeps (sage repro TABLE --dataset MANIFEST). Each row is one sweep entry over the dataset's Table 8 preset;",
    'only the rows this pipeline can run are entries.',
    '',
    ...REPRO_TABLES.flatMap((t) => [...tableLines(t), '']),
  ];
}
