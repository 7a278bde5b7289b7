/** Synthesizes the stack for the infra tests: once per test file, Lambda bundling skipped (a placeholder asset stands in). */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addNagChecks } from '../../infra/nag';
import { SagePipelineStack } from '../../infra/sage-pipeline-stack';

export interface SynthResult {
  template: Template;
  json: Record<string, unknown>;
  /** The ValidationFailed error when cdk-nag found unacknowledged errors. */
  validationError?: Error;
  validationReport: string;
}

export function synthPipeline(options: { context?: Record<string, unknown>; nag?: boolean } = {}): SynthResult {
  // CDK's built-in CloudFormation schema validation costs ~15 s a synth here; cfn-lint checks
  // the template in the integration tests, so the unit tests leave it off.
  process.env.CDK_VALIDATION ??= 'false';
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'sage-synth-'));
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [], ...options.context } });
  const stack = new SagePipelineStack(app, 'SagePipeline');
  if (options.nag) addNagChecks(app, stack);
  let validationError: Error | undefined;
  try {
    app.synth();
  } catch (error) {
    if (!(error instanceof Error) || !/Validation failed/i.test(error.message)) throw error;
    validationError = error;
  }
  const json = JSON.parse(readFileSync(path.join(outdir, 'SagePipeline.template.json'), 'utf8')) as Record<string, unknown>;
  let validationReport = '';
  try {
    validationReport = readFileSync(path.join(outdir, 'validation-report.json'), 'utf8');
  } catch {
    // no plugin ran
  }
  rmSync(outdir, { recursive: true, force: true });
  return { template: Template.fromJSON(json), json, validationError, validationReport };
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

export function resourcesOfType(json: Record<string, unknown>, type: string): [string, Record<string, unknown>][] {
  return Object.entries(json.Resources as Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([id, resource]) => [id, resource.Properties ?? {}]);
}
