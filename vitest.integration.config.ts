import { defineConfig } from 'vitest/config';

// Integration tests start a real kube-apiserver + etcd; run them with `make test-integration`,
// which builds the CLI and enters a private network namespace first.
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    // No test file runs across UTC midnight: usage reports and Day budgets are per UTC day.
    setupFiles: ['test/support/one-utc-day-setup.ts'],
    testTimeout: 90_000,
    // A file's beforeAll starts an API server, processes and traffic: over 180 s at load 45.
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
