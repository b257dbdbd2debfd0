import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'core/**/*.test.ts',
      'workflow/**/*.test.ts',
      'store/**/*.test.ts',
      'stream/**/*.test.ts',
      'scaling/**/*.test.ts',
      'engine/**/*.test.ts',
      'worker/**/*.test.ts',
      'api/**/*.test.ts',
      'client/**/*.test.ts',
      'cli/**/*.test.ts',
      'local/**/*.test.ts',
      'operator/**/*.test.ts',
      'migrations/**/*.test.ts',
      'test/**/*.test.ts',
      'console/**/*.test.ts',
    ],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
