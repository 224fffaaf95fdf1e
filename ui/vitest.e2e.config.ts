import { defineConfig } from "vitest/config";

// Browser end-to-end tests (npm run e2e): headless Chromium through playwright-core on the
// production build with a fake IPC. Node environment; one file at a time (one browser each).
export default defineConfig({
  test: {
    environment: "node",
    include: ["e2e/**/*.e2e.ts"],
    globalSetup: ["e2e/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
