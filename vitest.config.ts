import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'bench/**', '.cache/**', 'test/integration/**', 'test/node-e2e/**'],
    // No test file runs across UTC midnight: usage reports and Day budgets are per UTC day.
    setupFiles: ['test/support/one-utc-day-setup.ts'],
    testTimeout: 30_000,
    // expect.poll waits for another part (a socket closed, a counter settled): its default 1 s ran
    // out on a loaded machine. It still returns as soon as the condition holds.
    expect: { poll: { timeout: 15_000 } },
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
