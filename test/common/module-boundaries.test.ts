/**
 * The lint rules that keep modules apart can fail: a deep import into another module, static or
 * import(), is reported with the entry points it may use, while the index, a declared entry point
 * and a module's own files pass. Linted as if the text were the named file.
 */
import { ESLint } from 'eslint';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: path.resolve(__dirname, '../..') });

async function problems(file: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: file });
  return (result?.messages ?? []).filter((m) => /restricted/.test(m.ruleId ?? '')).map((m) => m.message);
}

describe('module boundaries', () => {
  it('refuses a deep import into the engine, static or dynamic, and names the index', async () => {
    const found = await problems('src/cli/commands/example.ts', "import { batchGradients } from '../../engine/step';\nexport const f = batchGradients;\nexport const g = () => import('../../engine/model');\n");
    expect(found).toHaveLength(2);
    for (const message of found) expect(message).toContain('Import src/engine through its index');
  });

  it('lets the index, a declared entry point and the module itself through', async () => {
    expect(await problems('src/cli/commands/example.ts', "import { createSageModel } from '../../engine';\nimport { parseClipConfig } from '../../clip/config';\nexport const f = [createSageModel, parseClipConfig, () => import('../../data/shards/format')];\n")).toEqual([]);
    expect(await problems('src/engine/example.ts', "import { batchGradients } from './step';\nexport const f = batchGradients;\n")).toEqual([]);
  });

  it('refuses what lies below a declared entry folder and lists the entry points', async () => {
    const found = await problems('functions/example/index.ts', "import { prepareImageFolder } from '../../src/data/ingest/prepare-folder';\nimport { StructuredLog } from '../../src/pipeline/process-manifest-upload';\nexport const f = [prepareImageFolder, StructuredLog];\n");
    expect(found).toHaveLength(2);
    expect(found[0]).toContain('data/errors, data/ingest, data/shards/format');
    expect(found[1]).toContain('pipeline/batch-submitter, pipeline/log');
  });
});
