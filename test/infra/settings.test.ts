import { describe, expect, it } from 'vitest';
import { PipelineSettingsError, readPipelineSettings } from '../../infra/settings';
import { resourcesOfType, synthPipeline } from './synth';

const contextOf = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });

describe('deployment settings from CDK context', () => {
  it('defaults every setting when the context is empty', () => {
    const settings = readPipelineSettings(contextOf({}));
    expect(settings).toMatchObject({ instanceTypes: ['g4dn.xlarge', 'g4dn.2xlarge', 'g5.xlarge', 'g5.2xlarge'], maxvCpus: 64, spot: true, jobAttempts: 10, spotRetries: 3, containerImage: '' });
  });

  it('coerces command-line strings: numbers, booleans and comma-separated lists', () => {
    const settings = readPipelineSettings(contextOf({ 'sage:maxvCpus': '256', 'sage:spot': 'false', 'sage:instanceTypes': 'g5.xlarge, g6.xlarge' }));
    expect(settings).toMatchObject({ maxvCpus: 256, spot: false, instanceTypes: ['g5.xlarge', 'g6.xlarge'] });
  });

  it('names each bad key and what it accepts', () => {
    const read = () => readPipelineSettings(contextOf({ 'sage:maxvCpus': 0, 'sage:logRetentionDays': 31 }));
    expect(read).toThrow(PipelineSettingsError);
    expect(read).toThrow(/sage:maxvCpus: .*>=1/);
    expect(read).toThrow(/sage:logRetentionDays: expected one of 1, 3, 5/);
  });

  it('takes the GPU table from context (JSON on the command line too) and refuses an instance type it lacks', () => {
    const custom = { 'g6.xlarge': { gpu: 'L4', gpus: 1, memoryGiB: 24, peakTflops: 30.3, efficiency: 0.42, onDemandUsdPerHour: 0.8, spotUsdPerHour: 0.3, startupMinutes: 30, source: 'sage doctor on g6.xlarge', measuredBy: 'sage doctor' } };
    const settings = readPipelineSettings(contextOf({ 'sage:instanceTypes': 'g6.xlarge', 'sage:gpus': JSON.stringify(custom) }));
    expect(settings.gpus['g6.xlarge']).toMatchObject({ efficiency: 0.42, measuredBy: 'sage doctor' });
    expect(() => readPipelineSettings(contextOf({ 'sage:instanceTypes': 'g6.xlarge,p4d.24xlarge', 'sage:gpus': custom }))).toThrow(/sage:gpus: no entry for p4d.24xlarge/);
    expect(() => readPipelineSettings(contextOf({ 'sage:gpus': { 'g4dn.xlarge': { gpu: 'T4' } } }))).toThrow(/sage:gpus/);
  });

  it('builds one on-demand environment and uses a prebuilt image when asked', () => {
    const { json } = synthPipeline({
      context: { 'sage:spot': false, 'sage:containerImage': '123456789012.dkr.ecr.us-east-1.amazonaws.com/sage:1.0', 'sage:maxvCpus': 16 },
    });
    const environments = resourcesOfType(json, 'AWS::Batch::ComputeEnvironment');
    expect(environments.map(([, props]) => (props.ComputeResources as { Type: string; MaxvCpus: number }))).toEqual([
      expect.objectContaining({ Type: 'EC2', MaxvCpus: 16 }),
    ]);
    const [[, jobDefinition]] = resourcesOfType(json, 'AWS::Batch::JobDefinition') as [[string, { ContainerProperties: { Image: unknown } }]];
    expect(jobDefinition.ContainerProperties.Image).toBe('123456789012.dkr.ecr.us-east-1.amazonaws.com/sage:1.0');
  });
});
