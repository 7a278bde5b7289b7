/** The lines that lead a reproduction's table in every format: what it reproduces, the toy label, the set-up differences. */
import type { ReproReportContext } from '../repro/report-context';

export function reproCaption(repro: ReproReportContext): string[] {
  const lines = [`Reproduction of the paper's ${repro.heading}.`];
  if (repro.toy) lines.push(`toy: ${repro.toyReasons.join('; ')}. The paper's figures are shown for reference; they are not comparable here.`);
  if (repro.metrics.length === 0) lines.push('The paper gives no figures for these rows (a plot only); see the notes.');
  if (repro.setupDifferences.length > 0) lines.push(`Differs from the paper's set-up: ${repro.setupDifferences.join('; ')}.`);
  return lines;
}
