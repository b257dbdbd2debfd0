import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'worker/**/*.test.ts',
      'operator/**/*.test.ts',
      'migrations/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
