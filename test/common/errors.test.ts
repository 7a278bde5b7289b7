import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/cli/main';
import { ClipError, DataError, EngineError, ManifestError, PipelineError, SageError, StorageError } from '../../src/common/errors';
import { LoaderOptionsError } from '../../src/data/errors';
import { ShardIndexError } from '../../src/data/shards/format';
import { EngineCheckpointError, EngineEmptyClassError, EngineInputError, EngineNonFiniteLossError } from '../../src/engine/errors';
import { ManifestReferenceError } from '../../src/manifest/references';
import { PipelineContentionError } from '../../src/pipeline/errors';
import { ObjectNotFoundError, PreconditionFailedError } from '../../src/storage';
import { TrainerSettingsError } from '../../src/trainer/errors';
import { jobSpecFromEnv, TrainerJobEnvironmentError } from '../../src/contracts/job';
import { trainerExitCode } from '../../src/trainer';
import { parseS3Uri } from '../../src/storage';
import { reproManifestName } from '../../src/repro/name';
import { TrainerError, ReproError } from '../../src/common/errors';

const silent = { out: () => {}, err: () => {} };

describe('error families', () => {
  it('put each domain’s errors under one base with a kind, which the CLI maps to its exit code', () => {
    type Family = abstract new (...args: never[]) => SageError;
    const cases: [Error, Family, 'bad-input' | 'failure', number][] = [
      [new EngineInputError('counts do not fit'), EngineError, 'bad-input', 2],
      [new EngineEmptyClassError(3, 'tail'), EngineError, 'bad-input', 2],
      [new EngineNonFiniteLossError(1, 2, Number.NaN, 3.1), EngineError, 'failure', 1],
      [new EngineCheckpointError('unreadable'), EngineError, 'failure', 1],
      [new ManifestReferenceError('/etc/passwd', 'local paths are refused'), ManifestError, 'bad-input', 2],
      [new LoaderOptionsError('imageSize must be positive'), DataError, 'bad-input', 2],
      [new ShardIndexError('not JSON'), DataError, 'bad-input', 2],
      [new ObjectNotFoundError('s3://b/k'), StorageError, 'bad-input', 2],
      [new PreconditionFailedError('s3://b/k'), StorageError, 'failure', 1],
      [new PipelineContentionError('s3://b/k', 10), PipelineError, 'failure', 1],
      [new TrainerSettingsError('sweep index 9'), SageError, 'bad-input', 2],
    ];
    for (const [error, family, kind, code] of cases) {
      expect(error).toBeInstanceOf(family);
      expect([error.name, (error as SageError).kind]).toEqual([error.name, kind]);
      expect([error.name, exitCodeFor(error, silent)]).toEqual([error.name, code]);
    }
    // The errors of bad settings and environments outside the engine are families' too.
    const thrown = (f: () => unknown): unknown => {
      try {
        f();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const environment = thrown(() => jobSpecFromEnv({}));
    expect(environment).toBeInstanceOf(TrainerJobEnvironmentError);
    expect(environment).toBeInstanceOf(TrainerError);
    expect(trainerExitCode(environment)).toBe(2);
    expect(exitCodeFor(thrown(() => parseS3Uri('not-a-uri')), silent)).toBe(2);
    expect(thrown(() => reproManifestName({ table: '5', dataset: 'cifar100-lt-r100', toy: false, tag: 'bad tag!' }))).toBeInstanceOf(ReproError);
    // A plain Error is a failure.
    expect(exitCodeFor(new Error('boom'), silent)).toBe(1);
    expect(new ClipError('x').domain).toBe('clip');
  });
});
