// End-to-end tests of the console in a real headless Chromium (Debian's, or CHROMIUM_PATH)
// against one fresh `gongyou demo` started by e2e/global-setup.ts. The specs run in file
// order, one at a time, as one story on one demo: the manager, the reviewer, finance, the
// admin (e2e/README.md).
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  testMatch: /.*\.spec\.ts/,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  outputDir: process.env.GONGYOU_E2E_OUT ? `${process.env.GONGYOU_E2E_OUT}/artifacts` : "test-results/artifacts",
  globalSetup: "./e2e/global-setup.ts",
  globalTeardown: "./e2e/global-teardown.ts",
  use: {
    headless: true,
    locale: "zh-CN",
    timezoneId: "Asia/Shanghai",
    viewport: { width: 1366, height: 900 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
  },
});
