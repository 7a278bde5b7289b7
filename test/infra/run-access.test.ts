import { describe, expect, it } from 'vitest';
import { MAX_SESSION_POLICY_CHARS, RunAccessError, runSessionPolicy } from '../../src/contracts/run-access';

/** Whether an IAM resource pattern (only `*` wildcards) matches an ARN: IAM's own rule, written independently of the builder. */
function matches(pattern: string, arn: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(arn);
}

function allowed(policy: ReturnType<typeof runSessionPolicy>, action: string, arn: string): boolean {
  return policy.Statement.some((statement) => statement.Action.includes(action) && statement.Resource.some((pattern) => matches(pattern, arn)));
}

const spec = {
  manifestUri: 's3://sage-data/manifests/cifar.json',
  resultsUri: 's3://sage-results/runs/20261201T100000Z-abc123/',
  checkpointUri: 's3://sage-artifacts/checkpoints/20261201T100000Z-abc123/',
  cudaCacheUri: 's3://sage-artifacts/cuda-cache/',
  weightsUri: 's3://sage-artifacts/weights/clip-vit-base-patch16/',
};

describe('the session policy of one run', () => {
  const policy = runSessionPolicy(spec);

  it('lets the run write its own results and checkpoints, and read the data and the weights it was given', () => {
    expect(allowed(policy, 's3:PutObject', 'arn:aws:s3:::sage-results/runs/20261201T100000Z-abc123/0/metrics.json')).toBe(true);
    expect(allowed(policy, 's3:DeleteObject', 'arn:aws:s3:::sage-artifacts/checkpoints/20261201T100000Z-abc123/0/state-e1-s0.safetensors')).toBe(true);
    expect(allowed(policy, 's3:PutObject', 'arn:aws:s3:::sage-artifacts/cuda-cache/cache.tar')).toBe(true);
    expect(allowed(policy, 's3:GetObject', 'arn:aws:s3:::sage-data/datasets/cifar/shards/train-000000.tar')).toBe(true);
    expect(allowed(policy, 's3:GetObject', 'arn:aws:s3:::sage-artifacts/weights/clip-vit-base-patch16/model.safetensors')).toBe(true);
  });

  it('keeps it out of every other run, other weights, the summaries and the data it only reads', () => {
    expect(allowed(policy, 's3:PutObject', 'arn:aws:s3:::sage-results/runs/20261201T090000Z-other1/0/metrics.json')).toBe(false);
    expect(allowed(policy, 's3:GetObject', 'arn:aws:s3:::sage-results/runs/20261201T090000Z-other1/0/metrics.json')).toBe(false);
    expect(allowed(policy, 's3:PutObject', 'arn:aws:s3:::sage-results/summaries/cifar/summary.json')).toBe(false);
    expect(allowed(policy, 's3:DeleteObject', 'arn:aws:s3:::sage-artifacts/checkpoints/20261201T090000Z-other1/0/checkpoint.json')).toBe(false);
    expect(allowed(policy, 's3:GetObject', 'arn:aws:s3:::sage-artifacts/weights/clip-vit-large/model.safetensors')).toBe(false);
    // A sibling prefix that merely starts with the weights folder's name.
    expect(allowed(policy, 's3:GetObject', 'arn:aws:s3:::sage-artifacts/weights/clip-vit-base-patch16-evil/model.safetensors')).toBe(false);
    expect(allowed(policy, 's3:PutObject', 'arn:aws:s3:::sage-data/manifests/cifar.json')).toBe(false);
    expect(policy.Statement.flatMap((s) => s.Action).every((action) => action.startsWith('s3:'))).toBe(true);
  });

  it('fits in what STS accepts, and refuses local locations', () => {
    expect(JSON.stringify(policy).length).toBeLessThanOrEqual(MAX_SESSION_POLICY_CHARS);
    expect(() => runSessionPolicy({ ...spec, resultsUri: '/tmp/out/' })).toThrow(RunAccessError);
  });
});
