// Sign-in, the API's error messages, sign-out, and the session kept across a reload.
import { checkAccessibility, demo, expect, screenshot, signIn, test } from "./fixtures";

test("a wrong password shows the API's message; sign-in, reload, sign-out", async ({ page }) => {
  await page.goto("/console/");
  await expect(page.getByRole("heading", { name: "工友工作台" })).toBeVisible();
  await checkAccessibility(page, "sign-in");
  await screenshot(page, "sign-in");

  await page.getByLabel("用户名").fill("demo-manager");
  await page.getByLabel("密码").fill("not-the-password");
  await page.getByRole("button", { name: "登录" }).click();
  const alert = page.getByRole("alert");
  await expect(alert).toContainText("auth.invalid_credentials");

  await signIn(page, "demo-manager");
  await page.reload();
  await expect(page.getByRole("button", { name: "退出登录" })).toBeVisible();

  await page.getByRole("button", { name: "退出登录" }).click();
  await expect(page.getByText("您已退出登录")).toBeVisible();
  expect(demo().password).not.toEqual("");
});

test("five wrong passwords lock the username, as the API says", async ({ page }) => {
  await page.goto("/console/");
  // A login no other spec uses, so the lock does not get in their way.
  for (let i = 0; i < 6; i++) {
    await page.getByLabel("用户名").fill("demo-sichuan-admin");
    await page.getByLabel("密码").fill(`wrong-${i}`);
    await page.getByRole("button", { name: "登录" }).click();
    await expect(page.getByRole("alert")).toBeVisible();
  }
  await expect(page.getByRole("alert")).toContainText("auth.account_locked");
});
