// What every spec uses: the demo, signing in as a demo login, an accessibility check with
// axe-core after the page's data has loaded, screenshots, and a page that fails the test on
// any script error or console error (a CSP violation shows there too).
import { test as base, expect, type Page } from "@playwright/test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_FILE, type Demo } from "./global-setup";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const OUT = process.env.GONGYOU_E2E_OUT ?? join(here, "..", "test-results");

export function demo(): Demo {
  const url = process.env.GONGYOU_CONSOLE_URL;
  if (url) {
    return {
      url: url.replace(/\/$/, ""),
      password: process.env.GONGYOU_DEMO_PASSWORD ?? "",
      fakePay: process.env.GONGYOU_FAKE_PAY_URL ?? "",
    };
  }
  return JSON.parse(readFileSync(DEMO_FILE, "utf8")) as Demo;
}

export const test = base.extend<{ failOnErrors: void }>({
  baseURL: async ({}, use) => use(demo().url),
  failOnErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
      page.on("console", (m) => {
        // A 4xx the page asked for and shows (e.g. a wrong password) is logged by Chromium
        // as a failed resource; those are the API's answers, not the console's errors.
        if (m.type() === "error" && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) {
          errors.push(`console error: ${m.text()}`);
        }
      });
      await use();
      expect(errors, "the page logged errors").toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

/** Signs in through the sign-in page as a demo login and waits for the signed-in layout. */
export async function signIn(page: Page, username: string): Promise<void> {
  await page.goto("/console/");
  await page.getByLabel("用户名").fill(username);
  await page.getByLabel("密码").fill(demo().password);
  await page.getByRole("button", { name: "登录" }).click();
  await expect(page.getByRole("button", { name: "退出登录" })).toBeVisible();
}

/**
 * axe-core on the page as it is now (call it after the data has loaded): no serious or
 * critical violation of WCAG 2.1 A/AA. Injected through the DevTools protocol, which the
 * page's CSP does not govern. The full report goes to OUT/axe/<name>.json.
 */
export async function checkAccessibility(page: Page, name: string): Promise<void> {
  await page.evaluate(`${AXE_SOURCE}\n;0`);
  const results = (await page.evaluate(`axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    resultTypes: ["violations"]
  })`)) as { violations: { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[] };
  mkdirSync(join(OUT, "axe"), { recursive: true });
  writeFileSync(join(OUT, "axe", `${name}.json`), JSON.stringify(results.violations, null, 2));
  const bad = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")})`);
  expect(bad, `axe findings on ${name}`).toEqual([]);
}

/** A full-page screenshot at OUT/screenshots/<name>.png (laptop), and <name>-tablet.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(join(OUT, "screenshots"), { recursive: true });
  await page.screenshot({ path: join(OUT, "screenshots", `${name}.png`), fullPage: true });
  const laptop = page.viewportSize();
  await page.setViewportSize({ width: 820, height: 1180 });
  await page.screenshot({ path: join(OUT, "screenshots", `${name}-tablet.png`), fullPage: true });
  if (laptop) await page.setViewportSize(laptop);
}
