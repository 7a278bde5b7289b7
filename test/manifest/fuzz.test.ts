import { describe, expect, it } from 'vitest';
import { validateManifest, type ManifestProblem } from '../../src/manifest';
import { positionOf } from '../../src/manifest/json-text';
import { generateMutation, generateValidManifest, MUTATION_KINDS, Rng } from './generate';

const BAD_CASES = 260;
const GOOD_CASES = 80;

function isWellFormed(problem: ManifestProblem): boolean {
  return typeof problem.path === 'string' && typeof problem.message === 'string' && problem.message.length > 10;
}

describe('validateManifest under fuzzing', () => {
  it(`refuses ${BAD_CASES} seeded mutations, each with a precise problem at the mutated field`, async () => {
    const rng = new Rng(20261129);
    const failures: string[] = [];
    const seenKinds = new Set<string>();
    for (let n = 0; n < BAD_CASES; n++) {
      const kind = MUTATION_KINDS[n % MUTATION_KINDS.length]!;
      const mutation = generateMutation(rng, kind);
      seenKinds.add(kind);
      let problems: ManifestProblem[];
      try {
        const result = await validateManifest(mutation.input, { checkStorage: false });
        if (result.ok) {
          failures.push(`#${n} ${kind}: accepted`);
          continue;
        }
        problems = result.problems;
      } catch (error) {
        failures.push(`#${n} ${kind}: threw ${(error as Error).stack}`);
        continue;
      }
      if (problems.length === 0 || !problems.every(isWellFormed)) failures.push(`#${n} ${kind}: malformed problems ${JSON.stringify(problems)}`);
      const precise = problems.find((p) => p.path === mutation.path);
      if (!precise) {
        failures.push(`#${n} ${kind}: no problem at "${mutation.path}"; got ${JSON.stringify(problems.slice(0, 5))}`);
        continue;
      }
      if (mutation.syntaxOffset !== undefined) {
        const text = mutation.input as string;
        const limit = positionOf(text, text.length);
        const first = positionOf(text, mutation.syntaxOffset);
        const at = { line: precise.line ?? 0, column: precise.column ?? 0 };
        const notBefore = at.line > first.line || (at.line === first.line && at.column >= first.column);
        const notAfter = at.line < limit.line || (at.line === limit.line && at.column <= limit.column);
        if (!notBefore || !notAfter) failures.push(`#${n} ${kind}: syntax error reported at ${at.line}:${at.column}, edit at ${first.line}:${first.column}`);
      }
    }
    expect(failures).toEqual([]);
    expect(seenKinds.size).toBe(MUTATION_KINDS.length);
  });

  it(`accepts ${GOOD_CASES} generated valid manifests, as text and as values`, async () => {
    const rng = new Rng(7);
    const refused: string[] = [];
    for (let n = 0; n < GOOD_CASES; n++) {
      const manifest = generateValidManifest(rng);
      const input = n % 2 === 0 ? manifest : JSON.stringify(manifest, null, n % 4 === 1 ? 2 : 0);
      const result = await validateManifest(input, { checkStorage: false });
      if (!result.ok) refused.push(`#${n}: ${JSON.stringify(result.problems.slice(0, 3))}`);
    }
    expect(refused).toEqual([]);
  });
});
