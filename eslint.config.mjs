// Lint rules that CI enforces. The import restrictions keep the layers apart:
// the engine (CLIP runtime, Sage engine, data loader) never touches AWS, and
// the Lambda handlers never pull in TensorFlow.js.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
);
