// The union admin's operations (issue: "an admin ... imports a roster"): a worker joins
// through the API (so the roster has someone to enroll); demo-admin opens the published
// plan E路守护, uploads a roster built here (a demo member already covered, the new member,
// a stranger, two malformed rows), watches the import finish and reads the error report.
// Then: a plan created through the form (with the API's field error on a taken code) and
// published, a notice sent to 四川 and its progress, and the dead-job queue.
import type { APIRequestContext } from "@playwright/test";
import { checkAccessibility, demo, expect, screenshot, signIn, test } from "./fixtures";

/** A valid 18-character resident ID: region + birth date + sequence + ISO 7064 MOD 11-2 check. */
function residentId(region: string, birth: string, seq: string): string {
  const body = region + birth + seq;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((acc, ch, i) => acc + Number(ch) * (weights[i] ?? 0), 0);
  return body + "10X98765432"[sum % 11];
}

const digits = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join("");
const birth = () => `19${85 + Math.floor(Math.random() * 10)}0${1 + Math.floor(Math.random() * 9)}1${Math.floor(Math.random() * 9)}`;

/** A worker signs in by SMS, applies; demo-admin approves through the API: a new member in 成都. */
async function newMember(request: APIRequestContext): Promise<string> {
  const phone = `1370055${digits(4)}`;
  const idNumber = residentId("510104", birth(), digits(3));
  const sent = await request.post("/api/v1/auth/sms-codes", { data: { phone, purpose: "sign_in" } });
  expect(sent.ok(), await sent.text()).toBe(true);
  const { dev_code: code } = (await sent.json()) as { dev_code: string };
  const signedIn = await request.post("/api/v1/auth/sessions/sms", { data: { phone, code } });
  expect(signedIn.ok(), await signedIn.text()).toBe(true);
  const { access_token: worker } = (await signedIn.json()) as { access_token: string };
  const applied = await request.post("/api/v1/membership/applications", {
    headers: { Authorization: `Bearer ${worker}` },
    data: {
      real_name: "花名册",
      id_number: idNumber,
      occupation: "delivery_rider",
      platform: "meituan",
      platform_worker_id: `MT-OPS${digits(6)}`,
      region_code: "510104",
      consents: { personal_information: true, sensitive_personal_information: true },
    },
  });
  expect(applied.status(), await applied.text()).toBe(201);
  const { id } = (await applied.json()) as { id: string };
  const admin = await request.post("/api/v1/auth/sessions/password", {
    data: { username: "demo-admin", password: demo().password },
  });
  expect(admin.ok(), await admin.text()).toBe(true);
  const { access_token: token } = (await admin.json()) as { access_token: string };
  const approved = await request.post(`/api/v1/admin/membership/applications/${id}/approve`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(approved.ok(), await approved.text()).toBe(true);
  return idNumber;
}

test("an admin imports a roster into E路守护 and reads the error report; plans, notices, dead jobs", async ({ page, request }) => {
  const member = await newMember(request);
  const stranger = residentId("510105", birth(), digits(3));
  const roster = [
    "姓名,身份证号,手机号,平台工号,入职日期",
    "李明,510104199003072117,13900000001,MT-51010401,2024-03-01", // row 1: a demo member, covered already
    `花名册,${member},,MT-OPS1,2025-06-01`, // row 2: the new member: enrolled now
    `路人甲,${stranger},13800138000,,`, // row 3: not a member
    "错号,510104199003072118,,,", // row 4: the wrong check character
    `错手机,${residentId("510107", birth(), digits(3))},12345,,`, // row 5: not a mobile number
  ].join("\r\n");

  await signIn(page, "demo-admin");
  const nav = page.getByRole("navigation", { name: "主导航" });
  await nav.getByRole("link", { name: "保障计划" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "保障计划" })).toBeVisible();
  const planLink = page.getByRole("link", { name: /E路守护/ });
  await expect(planLink).toBeVisible();
  await expect(page.getByRole("row", { name: /E路守护/ })).toContainText("已发布");
  await checkAccessibility(page, "admin-plans");
  await screenshot(page, "admin-plans");

  // The plan: its terms, then the roster.
  await planLink.click();
  await expect(page.getByRole("heading", { level: 1, name: /E路守护/ })).toBeVisible();
  await expect(page.getByRole("cell", { name: "住院津贴" })).toBeVisible();
  const file = page.getByLabel("名单文件（CSV）");
  await file.setInputFiles({ name: "错表头.csv", mimeType: "text/csv", buffer: Buffer.from("姓名,手机号\r\n张三,13800138000\r\n", "utf8") });
  await page.getByRole("button", { name: "上传并导入" }).click();
  await expect(page.getByRole("alert")).toContainText("roster.header"); // the API's file-level fault
  await file.setInputFiles({
    name: "骑手名单.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(roster, "utf8"),
  });
  await page.getByRole("button", { name: "上传并导入" }).click();

  // The import's page: progress until it has finished, then the counts and the report.
  await expect(page).toHaveURL(/\/console\/admin\/roster-imports\//);
  await expect(page.getByRole("heading", { level: 1, name: "名单导入" })).toBeVisible();
  await expect(page.locator("progress")).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "5 / 5 行已处理" })).toContainText("已完成", { timeout: 30_000 });
  const stat = (label: string) => page.locator(".ops-stat").filter({ has: page.getByText(label, { exact: true }) }).locator("dd");
  await expect(stat("新参保")).toHaveText("1");
  await expect(stat("已参保（跳过）")).toHaveText("1");
  await expect(stat("非会员")).toHaveText("1");
  await expect(stat("格式错误")).toHaveText("2");

  const report = page.getByRole("region", { name: "错误报告" });
  const rows = report.getByRole("row");
  await expect(rows).toHaveCount(4); // the header and three rejected rows
  await expect(rows.nth(1)).toContainText("3");
  await expect(rows.nth(1)).toContainText("not_member");
  await expect(rows.nth(2)).toContainText("4");
  await expect(rows.nth(2)).toContainText("id_number_check_char");
  await expect(rows.nth(2)).toContainText("身份证号最后一位校验码不对");
  await expect(rows.nth(3)).toContainText("5");
  await expect(rows.nth(3)).toContainText("手机号");
  await expect(rows.nth(3)).toContainText("phone_invalid");
  const download = page.waitForEvent("download");
  await report.getByRole("button", { name: "下载错误报告（CSV）" }).click();
  expect((await download).suggestedFilename()).toMatch(/\.csv$/);
  await checkAccessibility(page, "admin-import");
  await screenshot(page, "admin-import");

  // The plan's page lists its imports (GET …/roster-imports), this one first.
  await page.goBack();
  const imports = page.getByRole("table").filter({ has: page.getByRole("columnheader", { name: "新参保" }) });
  await expect(imports.getByRole("row").nth(1)).toContainText("已完成");
  await expect(imports.getByRole("row").nth(1)).toContainText("5");

  // A new plan through the form: a taken code is the API's field error; then created, published.
  await nav.getByRole("link", { name: "保障计划" }).click();
  await page.getByRole("link", { name: "新建计划" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "新建保障计划" })).toBeVisible();
  const year = new Date().getFullYear() + 1;
  await page.getByLabel("计划代码").fill("e-road-sichuan");
  await page.getByLabel("下级组织（第 1 级，可不选）").selectOption({ label: "四川省总工会" });
  await page.getByLabel("计划名称").fill(`骑手关爱 ${year}`);
  await page.getByLabel("报名开始日").fill(`${year}-01-01`);
  await page.getByLabel("报名截止日").fill(`${year}-06-30`);
  await page.getByLabel("保障开始日").fill(`${year}-01-01`);
  await page.getByLabel("保障结束日").fill(`${year}-12-31`);
  await page.getByRole("checkbox", { name: "外卖骑手" }).check();
  await page.getByLabel("项目代码").fill("accident");
  await page.getByLabel("项目名称").fill("意外身故或伤残");
  await page.getByLabel("给付金额（元）").fill("10000");
  await checkAccessibility(page, "admin-plan-form");
  await page.getByRole("button", { name: "创建计划（草稿）" }).click();
  await expect(page.getByRole("alert")).toContainText("plan.code_taken");
  await expect(page.getByLabel("计划代码")).toHaveAttribute("aria-invalid", "true");
  const code = `ops-${digits(6)}`;
  await page.getByLabel("计划代码").fill(code);
  await page.getByRole("button", { name: "创建计划（草稿）" }).click();
  await expect(page.getByRole("heading", { level: 1, name: `骑手关爱 ${year}` })).toBeVisible();
  await expect(page.getByRole("region", { name: "概况" })).toContainText("草稿");
  await page.getByRole("button", { name: "发布第 1 版" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "确认发布" }).click();
  await expect(page.getByRole("region", { name: "概况" })).toContainText("已发布");
  await expect(page.getByRole("button", { name: "上传并导入" })).toBeVisible();
  // Version 2: a copy to edit, published over version 1; then the plan closed.
  await page.getByRole("button", { name: "新建版本" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "新建版本" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "编辑草稿" })).toBeVisible();
  await page.getByLabel("给付金额（元）").fill("12000");
  await page.getByRole("button", { name: "保存草稿" }).click();
  await expect(page.getByRole("heading", { level: 2, name: /第 2 版条款/ })).toContainText("草稿");
  await expect(page.getByRole("cell", { name: /12000\.00/ })).toBeVisible();
  await page.getByRole("button", { name: "发布第 2 版" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "确认发布" }).click();
  const versions = page.getByRole("region", { name: "版本" });
  await expect(versions.getByRole("row", { name: /第 1 版/ })).toContainText("已被新版本取代");
  await expect(versions.getByRole("row", { name: /第 2 版/ })).toContainText("已发布");
  await page.getByRole("button", { name: "关闭计划" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "确认关闭" }).click();
  await expect(page.getByRole("region", { name: "概况" })).toContainText("已关闭");
  await expect(page.getByRole("button", { name: "上传并导入" })).toHaveCount(0);

  // A notice to 四川's members, and its progress.
  await nav.getByRole("link", { name: "群发通知" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "群发通知" })).toBeVisible();
  await page.getByRole("link", { name: "发送通知" }).click();
  await page.getByLabel("下级组织（第 1 级，可不选）").selectOption({ label: "四川省总工会" });
  await page.getByLabel("标题").fill("名单导入完成");
  await page.getByLabel("内容").fill("E路守护已按平台名单为符合条件的会员办理参保，请在 App 中查看保障凭证。");
  await page.getByRole("button", { name: "发送…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "确认发送" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "通知：名单导入完成" })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "收件人" })).toContainText("已写入全部收件人", { timeout: 20_000 });
  await checkAccessibility(page, "admin-campaign");
  await nav.getByRole("link", { name: "群发通知" }).click();
  await expect(page.getByRole("row", { name: /名单导入完成/ })).toContainText("四川省总工会");

  // The dead-job queue.
  await nav.getByRole("link", { name: "后台任务" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "后台任务" })).toBeVisible();
  await expect(page.getByLabel("任务状态")).toHaveValue("dead");
  await expect(page.getByRole("table").or(page.getByText("没有已放弃的任务。"))).toBeVisible();
  await page.getByLabel("任务状态").selectOption("done");
  // Finished jobs, newest first: after the other specs' work (CI runs them all on one demo)
  // the import's job may be past the first page, so any finished job will do.
  await expect(page.getByRole("table").getByRole("row").nth(1)).toContainText("已完成");
  await checkAccessibility(page, "admin-jobs");
});
