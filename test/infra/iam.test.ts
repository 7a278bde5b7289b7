import { beforeAll, describe, expect, it } from 'vitest';
import { resourcesOfType, synthPipeline } from './synth';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every statement of the inline policies attached to the role whose logical id starts with `rolePrefix`. */
function statementsOf(json: Record<string, unknown>, rolePrefix: string): Statement[] {
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, props]) => (props.Roles as { Ref: string }[]).some((role) => role.Ref.startsWith(rolePrefix)))
    .flatMap(([, props]) => (props.PolicyDocument as { Statement: Statement[] }).Statement);
}

const actionsOf = (statements: Statement[]): string[] => [...new Set(statements.flatMap((s) => [s.Action].flat()))].sort();

/** Resources of statements that grant `action`, as strings like `<DataBucket…>/manifests/*`. */
function resourcesFor(statements: Statement[], action: string): string[] {
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as Record<string, unknown>;
    if (v['Fn::GetAtt']) return `<${(v['Fn::GetAtt'] as string[])[0]}>`;
    if (v.Ref) return `<${String(v.Ref)}>`;
    if (v['Fn::Join']) return ((v['Fn::Join'] as [string, unknown[]])[1]).map(render).join('');
    return JSON.stringify(value);
  };
  return statements
    .filter((s) => [s.Action].flat().includes(action))
    .flatMap((s) => [s.Resource].flat().map(render))
    .sort();
}

let json: Record<string, unknown>;
beforeAll(() => {
  json = synthPipeline().json;
});

describe('least-privilege IAM', () => {
  it('lets the validation function read data, write its own results prefixes and submit to this queue only', () => {
    const statements = statementsOf(json, 'ValidateManifestRole');
    expect(actionsOf(statements)).toEqual(['batch:SubmitJob', 'logs:CreateLogStream', 'logs:PutLogEvents', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 'sqs:SendMessage']);
    expect(resourcesFor(statements, 'batch:SubmitJob')).toEqual([expect.stringMatching(/^<GpuQueue/), expect.stringMatching(/^<GpuTrainingJob/)]);
    expect(resourcesFor(statements, 's3:PutObject')).toEqual(
      ['claims/*', 'rejections/*', 'runs/*', 'summaries/*'].map((prefix) => expect.stringMatching(new RegExp(`^<ResultsBucket\\w+>/${prefix.replace('*', '\\*')}$`))),
    );
    expect(resourcesFor(statements, 's3:DeleteObject')).toEqual([expect.stringMatching(/^<ResultsBucket\w+>\/claims\/\*$/)]);
    expect(resourcesFor(statements, 's3:PutObject').some((r) => r.includes('DataBucket'))).toBe(false);
  });

  it('lets the aggregation function touch only run records and summaries, and never Batch or the data bucket', () => {
    const statements = statementsOf(json, 'AggregateMetricsRole');
    expect(actionsOf(statements)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 'sqs:SendMessage']);
    expect(resourcesFor(statements, 's3:PutObject')).toEqual([expect.stringMatching(/^<ResultsBucket\w+>\/runs\/\*$/), expect.stringMatching(/^<ResultsBucket\w+>\/summaries\/\*$/)]);
    expect(JSON.stringify(statements)).not.toContain('DataBucket');
    expect(JSON.stringify(statements)).not.toContain('ArtifactsBucket');
  });

  it('lets each function write logs only to its own log group and dead letters only to its own queue', () => {
    for (const prefix of ['ValidateManifest', 'AggregateMetrics']) {
      const statements = statementsOf(json, `${prefix}Role`);
      expect(resourcesFor(statements, 'logs:PutLogEvents')).toEqual([expect.stringMatching(new RegExp(`^<${prefix}Logs`))]);
      expect(resourcesFor(statements, 'sqs:SendMessage')).toEqual([expect.stringMatching(new RegExp(`^<${prefix}DeadLetters`))]);
    }
  });

  it('lets the training job read data and weights and write only results, checkpoints and the CUDA cache', () => {
    const statements = statementsOf(json, 'GpuJobRole');
    expect(actionsOf(statements)).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    expect(resourcesFor(statements, 's3:PutObject')).toEqual([
      expect.stringMatching(/^<ArtifactsBucket\w+>\/checkpoints\/\*$/),
      expect.stringMatching(/^<ArtifactsBucket\w+>\/cuda-cache\/\*$/),
      expect.stringMatching(/^<ResultsBucket\w+>\/runs\/\*$/),
    ]);
  });

  it('grants no action on every resource to the functions or the job', () => {
    for (const prefix of ['ValidateManifestRole', 'AggregateMetricsRole', 'GpuJobRole']) {
      for (const statement of statementsOf(json, prefix)) {
        expect([statement.Action].flat().some((action) => action.includes('*'))).toBe(false);
        expect([statement.Resource].flat()).not.toContain('*');
      }
    }
  });
});
