import { defineConfig } from 'vitest/config';

// Tests train tiny models on the CPU: give them time, and run files in separate
// processes so a tfjs backend set in one file never leaks into another.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
