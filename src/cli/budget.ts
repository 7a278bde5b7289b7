/**
 * The estimate's budget for commands that run without a deployment (`sage validate`,
 * `sage submit --dry-run`, `sage repro`): the stack's settings from ./cdk.json when there is
 * one (as `cdk deploy` would read them), else the defaults. One reader of the settings:
 * infra/settings.ts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readPipelineSettings, settingsBudget } from '../../infra/settings';
import { DEFAULT_BUDGET, type AttemptBudget } from '../estimate';

export interface BudgetSource {
  budget: AttemptBudget;
  /** Where the figures came from, for the output. */
  from: string;
}

export async function cliBudget(cwd = process.cwd()): Promise<BudgetSource> {
  const file = path.join(cwd, 'cdk.json');
  let context: Record<string, unknown>;
  try {
    context = ((JSON.parse(await readFile(file, 'utf8')) as { context?: Record<string, unknown> }).context ?? {}) as Record<string, unknown>;
  } catch {
    return { budget: DEFAULT_BUDGET, from: 'the default settings (no cdk.json here)' };
  }
  const settings = readPipelineSettings({ tryGetContext: (key: string) => context[key] });
  // The budget the stack hands the validation function (ESTIMATE_BUDGET), so both estimate alike.
  return { budget: settingsBudget(settings), from: file };
}
