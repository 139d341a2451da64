import { defineConfig } from 'vitest/config';

// The real-node end-to-end suite (test/node-e2e): run it with `make e2e`, which starts the node
// (make cluster-up NODE=1), builds and imports the images (make image) and runs vitest inside the
// node's network namespace. One file, its steps in order.
export default defineConfig({
  test: {
    include: ['test/node-e2e/**/*.e2e.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
