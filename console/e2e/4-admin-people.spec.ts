// The union admin's people pages: a worker applies through the API; demo-admin finds the
// application in the queue, approves it and finds the new member; then creates a staff
// login with a role and sees it listed. Demo logins are left as they are.
import type { APIRequestContext } from "@playwright/test";
import { checkAccessibility, demo, expect, screenshot, signIn, test } from "./fixtures";

/** A valid 18-character resident ID: region + birth date + sequence + ISO 7064 MOD 11-2 check. */
function residentId(region: string, birth: string, seq: string): string {
  const body = region + birth + seq;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((acc, ch, i) => acc + Number(ch) * (weights[i] ?? 0), 0);
  return body + "10X98765432"[sum % 11];
}

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;
/** One character of a given name (a fresh name each run, so a rerun on one demo finds its own). */
const given = () => pick([..."晓子思若航川岚骁霖嘉悦明轩宇涵泽睿博文静安宁远志"]);
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join("");

/** Signs a new worker in by SMS (the demo answers the code) and applies for membership. */
async function applyAsWorker(
  request: APIRequestContext,
  phone: string,
  realName: string,
  idNumber: string,
): Promise<string> {
  const sent = await request.post("/api/v1/auth/sms-codes", { data: { phone, purpose: "sign_in" } });
  expect(sent.ok(), await sent.text()).toBe(true);
  const { dev_code: code } = (await sent.json()) as { dev_code: string };
  const session = await request.post("/api/v1/auth/sessions/sms", { data: { phone, code } });
  expect(session.ok(), await session.text()).toBe(true);
  const { access_token: token } = (await session.json()) as { access_token: string };
  const applied = await request.post("/api/v1/membership/applications", {
    headers: { Authorization: `Bearer ${token}` },
    data: {
      real_name: realName,
      id_number: idNumber,
      occupation: "delivery_rider",
      platform: "meituan",
      platform_worker_id: `MT-E2E${digits(6)}`,
      region_code: "510104",
      consents: { personal_information: true, sensitive_personal_information: true },
    },
  });
  expect(applied.status(), await applied.text()).toBe(201);
  const app = (await applied.json()) as { id: string; status: string };
  expect(app.status).toBe("pending");
  return app.id;
}

test("an admin approves an application, finds the member, and creates a staff login", async ({ page, request }) => {
  // A fresh worker each run (a rerun on the same demo must not meet its earlier self).
  const phone = `1370013${digits(4)}`;
  const realName = `${pick(["欧阳", "司马", "诸葛", "上官"])}${given()}${given()}${given()}`;
  const birth = `19${80 + Math.floor(Math.random() * 20)}0${1 + Math.floor(Math.random() * 9)}1${Math.floor(Math.random() * 9)}`;
  const idNumber = residentId("510104", birth, digits(3));
  await applyAsWorker(request, phone, realName, idNumber);

  await signIn(page, "demo-admin");
  await page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: "入会申请" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "入会申请" })).toBeVisible();
  await expect(page.getByLabel("状态")).toHaveValue("pending");
  const link = page.getByRole("link", { name: realName });
  await expect(link).toBeVisible();
  await checkAccessibility(page, "admin");
  await screenshot(page, "admin");

  // The application's page: masked identity, the checks; approve it.
  await link.click();
  await expect(page.getByRole("heading", { level: 1, name: `入会申请：${realName}` })).toBeVisible();
  await expect(page.getByText("未发现冲突")).toBeVisible();
  await expect(page.getByText(/^5101\*+\d{3}[\dX]$/)).toBeVisible();
  await page.getByRole("button", { name: "批准入会" }).click();
  const dialog = page.getByRole("dialog", { name: "批准入会" });
  await dialog.getByRole("button", { name: "确认批准" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByText("已批准", { exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: "批准入会" })).toBeHidden();

  // The member, found by name in the members search.
  await page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: "会员" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "会员" })).toBeVisible();
  await page.getByLabel("查找会员").fill(realName);
  await page.getByRole("button", { name: "搜索" }).click();
  const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: realName }) });
  await expect(row).toHaveCount(1);
  await expect(row.getByText("有效")).toBeVisible();
  await expect(row.getByText("锦江区新就业形态劳动者工会")).toBeVisible();
  await checkAccessibility(page, "admin-members");
  await screenshot(page, "admin-members");

  // The member's page: the approval in the history.
  await row.getByRole("link", { name: realName }).click();
  await expect(page.getByRole("heading", { level: 1, name: `会员：${realName}` })).toBeVisible();
  await expect(page.getByRole("cell", { name: "批准入会" })).toBeVisible();
  await expect(page.getByText("还没有人查看过该会员的完整身份信息。")).toBeVisible();

  // A new staff login with a role, listed with it.
  const username = `e2e-reviewer-${digits(5)}`;
  await page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: "工作人员" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "工作人员" })).toBeVisible();
  await page.getByRole("link", { name: "新建工作人员账号" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "新建工作人员账号" })).toBeVisible();
  await page.getByLabel("用户名").fill(username);
  await page.getByLabel("姓名").fill("测试·成都审核员");
  const chengdu = async (select: ReturnType<typeof page.getByLabel>) => {
    const option = select.locator("option", { hasText: "成都市总工会" });
    await select.selectOption((await option.getAttribute("value")) ?? "");
  };
  await chengdu(page.getByLabel("所属单位"));
  await page.getByLabel("初始密码").fill("Chengdu-2026-review");
  const role1 = page.getByRole("group", { name: "角色 1" });
  await role1.getByLabel("角色", { exact: true }).selectOption({ label: "理赔审核员" });
  await chengdu(role1.getByLabel("适用范围"));
  await page.getByRole("button", { name: "创建账号" }).click();

  await expect(page.getByRole("heading", { level: 1, name: "工作人员" })).toBeVisible();
  const staffRow = page.getByRole("row").filter({ hasText: username });
  await expect(staffRow).toHaveCount(1);
  await expect(staffRow.getByText("理赔审核员（成都市总工会）")).toBeVisible();
  await expect(staffRow.getByText("启用", { exact: true })).toBeVisible();

  // Its roles changed: a second role added.
  await staffRow.getByRole("button", { name: new RegExp(`^修改\\s*${username}$`) }).click();
  const edit = page.getByRole("dialog", { name: `修改 ${username}` });
  await edit.getByRole("button", { name: "添加角色" }).click();
  const role2 = edit.getByRole("group", { name: "角色 2" });
  await role2.getByLabel("角色", { exact: true }).selectOption({ label: "财务审批人" });
  await chengdu(role2.getByLabel("适用范围"));
  await edit.getByRole("button", { name: "保存" }).click();
  await expect(edit).toBeHidden();
  await expect(staffRow.getByText("财务审批人（成都市总工会）")).toBeVisible();
  await expect(staffRow.getByText("理赔审核员（成都市总工会）")).toBeVisible();
});

test("an identity conflict: approval refused while the number has a live membership; rejected with a reason", async ({
  page,
  request,
}) => {
  // One ID number, two phones: the first becomes a member (by the API), the second's
  // application goes to the identity-conflict review.
  const idNumber = residentId("510104", `1990${pick(["03", "05", "07"])}2${digits(1)}`, digits(3));
  const first = await applyAsWorker(request, `1370014${digits(4)}`, "韦一鸣", idNumber);
  const admin = await request.post("/api/v1/auth/sessions/password", {
    data: { username: "demo-admin", password: demo().password },
  });
  const { access_token: adminToken } = (await admin.json()) as { access_token: string };
  const approved = await request.post(`/api/v1/admin/membership/applications/${first}/approve`, {
    headers: { Authorization: `Bearer ${adminToken}` },
  });
  expect(approved.ok(), await approved.text()).toBe(true);
  const realName = `${pick(["韦", "冼", "阚"])}${given()}${given()}${given()}`;
  await applyAsWorker(request, `1370015${digits(4)}`, realName, idNumber);

  await signIn(page, "demo-admin");
  await page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: "身份冲突审核" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "身份冲突审核" })).toBeVisible();
  await page.getByRole("link", { name: realName }).click();
  await expect(page.getByText("已被其他账号使用", { exact: true })).toBeVisible();

  await page.getByRole("button", { name: "批准入会" }).click();
  const approve = page.getByRole("dialog", { name: "批准入会" });
  await approve.getByRole("button", { name: "确认批准" }).click();
  await expect(approve.getByRole("alert")).toContainText("membership.identity_in_use");
  await approve.getByRole("button", { name: "取消" }).click();

  await page.getByRole("button", { name: "拒绝申请" }).click();
  const reject = page.getByRole("dialog", { name: "拒绝入会申请" });
  await reject.getByLabel("常用原因").selectOption({ label: "身份证号已被其他账号使用，请本人联系工会核实" });
  await expect(reject.getByLabel("拒绝原因")).toHaveValue("身份证号已被其他账号使用，请本人联系工会核实");
  await reject.getByRole("button", { name: "确认拒绝" }).click();
  await expect(reject).toBeHidden();
  await expect(page.getByText("已拒绝", { exact: true })).toBeVisible();
  await expect(page.getByText("身份证号已被其他账号使用，请本人联系工会核实")).toBeVisible();
});
