import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Says once how to run the PostgreSQL tests when no database is given (fails the run in CI).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The machine has 2 cores; Prism and child processes need room.
    maxWorkers: 2,
  },
});
