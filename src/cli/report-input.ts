/**
 * What `sage report` renders from: a manifest's summary.json (with its runs' metrics from
 * the same results bucket), or a set of metrics.json files (a `sage train` output, a run
 * folder), turned into a summary of their own.
 */
import type { z } from 'zod';
import { MetricsDocument } from '../contracts/metrics';
import { DEFAULT_SETTINGS, Method, resolveSettings } from '../contracts/settings';
import { Summary, type SummaryRow } from '../contracts/summary';
import { RUN_FILES, SUMMARY_FILES, resultsKeys } from '../contracts/layout';
import type { ReportInput } from '../report';
import { storeFor } from '../storage';
import { CliInputError } from './exit-codes';

async function readJson(uri: string): Promise<unknown> {
  const store = await storeFor(uri);
  if (!(await store.exists(uri))) throw new CliInputError(`no file at ${uri}`);
  try {
    return JSON.parse(await store.getText(uri)) as unknown;
  } catch (error) {
    throw new CliInputError(`${uri} is not JSON: ${(error as Error).message}`);
  }
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, uri: string, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CliInputError(`${uri} is not a ${what}: ${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
}

/** The results root a summary lives in: the URI minus `summaries/<name>/summary.json`. */
export function resultsRootOf(summaryUri: string, manifestName: string): string {
  const suffix = resultsKeys.summary(manifestName);
  const normalized = summaryUri.replace(/\\/g, '/');
  if (!normalized.endsWith(suffix)) throw new CliInputError(`${summaryUri} is not at summaries/${manifestName}/summary.json of a results bucket, so its runs' metrics cannot be found`);
  return summaryUri.slice(0, summaryUri.length - suffix.length);
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The settings a run changed from the defaults of its method, from its metrics document's
 * resolved settings (`config`): what the Settings column shows for a run that has no run
 * record (`sage train` alone, metrics files given to `sage report`), whether the change came
 * from the manifest, a preset, `--config` or a flag. Components are listed only where they
 * differ from the method's.
 */
export function overridesFromConfig(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const method = Method.safeParse(config.method);
  if (!method.success) return {};
  const base: Record<string, unknown> = resolveSettings({ method: method.data });
  const out: Record<string, unknown> = { method: method.data };
  for (const key of Object.keys(DEFAULT_SETTINGS)) {
    if (key === 'method' || !(key in config)) continue;
    if (key === 'components') {
      const components = config.components as Record<string, unknown> | undefined;
      const baseComponents = base.components as Record<string, unknown>;
      const changed = Object.fromEntries(Object.entries(components ?? {}).filter(([name, value]) => !sameValue(value, baseComponents[name])));
      if (Object.keys(changed).length > 0) out.components = changed;
    } else if (!sameValue(config[key], base[key])) out[key] = config[key];
  }
  return out;
}

/** A summary built from metrics documents alone: one SUCCEEDED row each, its settings from its metrics. */
export function summaryFromMetrics(documents: readonly MetricsDocument[], name: string): Summary {
  const rows: SummaryRow[] = documents.map((m) => ({
    runId: m.runId,
    sweepIndex: m.sweepIndex,
    status: 'SUCCEEDED',
    method: m.method,
    overrides: overridesFromConfig(m.config),
    accuracy: m.accuracy,
    parameters: m.parameters,
    submittedAt: m.startedAt,
    finishedAt: m.finishedAt,
  }));
  const updatedAt = documents.map((m) => m.finishedAt).sort().at(-1) ?? new Date().toISOString();
  return { version: 1, manifestName: name, updatedAt, rows };
}

/** metrics.json files named directly, or found under a folder / prefix. */
/** The last segment of a path or URI, lower-cased as the file names of layout.ts are. */
function fileNameOf(uri: string): string {
  return (uri.split(/[/\\]/).at(-1) ?? '').toLowerCase();
}

async function metricsUris(input: string): Promise<string[]> {
  if (fileNameOf(input) === RUN_FILES.metrics) return [input];
  const store = await storeFor(input);
  const prefix = /[/\\]$/.test(input) ? input : `${input}/`;
  const found = (await store.list(prefix)).map((o) => o.uri).filter((uri) => fileNameOf(uri) === RUN_FILES.metrics);
  if (found.length === 0) throw new CliInputError(`no summary.json or metrics.json at ${input}`);
  return found;
}

export async function loadReportInput(inputs: readonly string[], name?: string): Promise<ReportInput> {
  if (inputs.length === 1 && fileNameOf(inputs[0]!) === SUMMARY_FILES.summary) {
    const uri = inputs[0]!;
    const summary = parseWith(Summary, await readJson(uri), uri, 'summary document');
    const root = resultsRootOf(uri, summary.manifestName);
    const { loadRunMetrics } = await import('../pipeline');
    const { silentLog } = await import('../pipeline');
    return { summary, metrics: await loadRunMetrics(await storeFor(root), root, summary, silentLog) };
  }
  const uris = (await Promise.all(inputs.map(metricsUris))).flat();
  const metrics = await Promise.all(uris.map(async (uri) => parseWith(MetricsDocument, await readJson(uri), uri, 'metrics document')));
  return { summary: summaryFromMetrics(metrics, name ?? metrics[0]?.dataset.name ?? 'report'), metrics };
}
