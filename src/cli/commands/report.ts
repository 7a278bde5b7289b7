/** `sage report`: the HTML, markdown and CSV report from a summary or from metrics files. */
import type { Command } from 'commander';
import { locationOption, parseLocation } from '../options';
import type { CliOutput } from '../output';

interface ReportFlags {
  out: string;
  name?: string;
}

export function registerReport(program: Command, output: CliOutput): void {
  program
    .command('report')
    .description('render report.html (charts), report.md and results.csv from a summary.json or metrics.json files, and print the table')
    .argument('<inputs...>', 'a summaries/<name>/summary.json of a results bucket, metrics.json files, or folders holding them (paths or s3:// URIs)')
    .addOption(locationOption('-o, --out <dir>', 'folder (or s3:// prefix) for the report files', 'out/report'))
    .option('--name <name>', 'title of a report built from metrics files (default: the dataset name)')
    .action(async (inputs: string[], flags: ReportFlags) => {
      const { loadReportInput } = await import('../report-input');
      const { renderReportHtml, renderReportMarkdown, renderResultsCsv, methodsTable, buildReportModel } = await import('../../report');
      const { joinUri, storeFor } = await import('../../storage');
      const { SUMMARY_FILES } = await import('../../contracts/layout');
      const input = await loadReportInput(inputs.map(parseLocation), flags.name);
      const store = await storeFor(flags.out);
      // The same file names as a results bucket's summaries/<name>/ (layout.ts).
      const htmlUri = joinUri(flags.out, SUMMARY_FILES.html);
      await store.put(htmlUri, await renderReportHtml(input), { contentType: 'text/html; charset=utf-8' });
      await store.put(joinUri(flags.out, SUMMARY_FILES.markdown), renderReportMarkdown(input), { contentType: 'text/markdown; charset=utf-8' });
      await store.put(joinUri(flags.out, SUMMARY_FILES.csv), renderResultsCsv(input), { contentType: 'text/csv; charset=utf-8' });
      output.out(methodsTable(buildReportModel(input)));
      output.out(`\nreport: ${htmlUri}`);
    });
}
