// Lint rules that CI enforces. The import restrictions keep the layers apart:
// the engine (CLIP runtime, Sage engine, data loader) never touches AWS, and
// the Lambda handlers never pull in TensorFlow.js.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Each module under src/ with an index is used through it. The few files listed here are entry
// points of their own, each for a reason: importing the index would load what the caller must not
// (TensorFlow.js, the AWS SDK) or make an import cycle. Tests, benchmarks and scripts reach inside.
const ENTRY_POINTS = {
  clip: {
    files: ['config', 'weights', 'safetensors', 'types'],
    why: 'the CLIP folder format and shapes, free of TensorFlow.js (the validation Lambda and the estimates read them)',
  },
  data: {
    files: ['errors', 'ingest', 'shards/format'],
    why: 'its error types, the dataset builders and the shard format load no TensorFlow.js (the CLI and the validation Lambda use them)',
  },
  engine: { files: [], why: '' },
  estimate: { files: [], why: '' },
  manifest: {
    files: ['schema', 'references', 'problems'],
    why: 'the schema, the location rules and the problem types alone: data uses them while the manifest checks use data (the index would be a cycle)',
  },
  pipeline: {
    files: ['batch-submitter', 'log'],
    why: 'the AWS Batch submitter is the one pipeline file with the AWS SDK, and the structured log serves the container without the pipeline',
  },
  procedural: { files: [], why: '' },
  report: { files: [], why: '' },
  storage: { files: ['s3'], why: 'the S3 store is the one storage file with the AWS SDK (storeFor loads it only for s3:// URIs)' },
  trainer: {
    files: ['errors', 'parallel/replica-count'],
    why: 'its error types and the replica count load no TensorFlow.js (the CLI and the local pipeline use them before any trainer starts)',
  },
};
const HOMES = ['cli', 'clip', 'common', 'contracts', 'data', 'engine', 'estimate', 'local', 'manifest', 'pipeline', 'procedural', 'report', 'repro', 'storage', 'trainer'];

function entryMessage(module) {
  const { files, why } = ENTRY_POINTS[module];
  const through = `Import src/${module} through its index`;
  return files.length === 0 ? `${through}.` : `${through}, or one of its entry points ${files.map((f) => `${module}/${f}`).join(', ')}: ${why}.`;
}

// One block per home: a file may import its own module's files, no other module's insides.
function indexOnlyBlock(files, home) {
  const modules = Object.keys(ENTRY_POINTS).filter((m) => m !== home);
  const rule = (m, slash) => {
    const allowed = ['index', ...ENTRY_POINTS[m].files].join('|').replaceAll('/', slash);
    return `(^|${slash})${m}${slash}(?!(${allowed})$)`;
  };
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: modules.map((m) => ({ regex: rule(m, '/'), message: entryMessage(m) })) }],
      // The same for import(): esquery's regular expressions cannot hold a slash, so \x2F stands for one.
      'no-restricted-syntax': ['error', ...modules.map((m) => ({ selector: `ImportExpression > Literal[value=/${rule(m, '\\x2F')}/]`, message: entryMessage(m) }))],
    },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', 'dist/**', 'fixtures/**', 'coverage/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', performance: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', AbortController: 'readonly', structuredClone: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/clip/**', 'src/engine/**', 'src/data/**', 'src/procedural/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@aws-sdk/*', 'aws-cdk-lib', 'aws-cdk-lib/*', '@middy/*'], message: 'The engine imports nothing from AWS: take an ObjectStore from src/storage instead.' }] }],
    },
  },
  {
    files: ['functions/**', 'src/manifest/**', 'src/report/**', 'src/contracts/**', 'src/storage/**', 'src/estimate/**', 'src/pipeline/**'],
    rules: {
      // The CLIP folder's format (config, tensor names, safetensors header) is tfjs-free: validation checks weights with it.
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@tensorflow/*', '**/clip/**', '!**/clip/config', '!**/clip/weights', '!**/clip/safetensors', '**/engine/**', '**/data/loader*'], message: 'Handlers and the code they share import nothing from TensorFlow.js.' }] },
      ],
    },
  },
  {
    files: ['src/clip/config.ts', 'src/clip/weights.ts', 'src/clip/safetensors.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@tensorflow/*', '@aws-sdk/*', './*', '!./types', '!./safetensors', '!../common/*'], message: 'The CLIP folder format stays free of TensorFlow.js and of the rest of src/clip: the validation Lambda bundles it.' }] }],
    },
  },
  ...HOMES.map((home) => indexOnlyBlock([`src/${home}/**`], home)),
  indexOnlyBlock(['functions/**', 'container/**', 'infra/**'], undefined),
);
