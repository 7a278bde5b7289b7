/**
 * CDK entry (`cdk.json`: `npx tsx infra/app.ts`). Environment-agnostic: no account or
 * region, hence no look-ups at synth time; `cdk deploy` takes them from the profile.
 * cdk-nag's AwsSolutions checks run on every synth; `-c sage:nag=false` turns them off.
 */
import { App } from 'aws-cdk-lib';
import { addNagChecks } from './nag';
import { SagePipelineStack } from './sage-pipeline-stack';

const app = new App();
const stack = new SagePipelineStack(app, 'SagePipeline', {
  description: 'Sage CLIP fine-tuning: manifest validation, GPU batch training, metrics aggregation',
});
const nag = app.node.tryGetContext('sage:nag') as unknown;
if (nag !== false && nag !== 'false') addNagChecks(app, stack);
app.synth();
