// Finance (issue 17): demo-approver confirms the demo's 30,000.00 claim awaiting
// confirmation; demo-finance builds a WeChat batch with the payout it makes; demo-approver
// (not the builder) approves it; the in-process worker sends the transfer to the fake WeChat
// Pay; the rider confirms it there, and the console shows the payout paid.
//
// The 30,000.00 payout goes by WeChat only when the per-transfer limit allows it: the demo
// must run with GONGYOU_PAYOUT_WECHAT_LIMIT_YUAN of at least 30000 (default 5000, above
// which a payout is blocked from WeChat batches with `above_wechat_limit`).
import type { Page } from "@playwright/test";
import { checkAccessibility, demo, expect, screenshot, signIn, test } from "./fixtures";

interface FakeBill {
  out_bill_no: string;
  openid: string;
  amount_fen: number;
  state: string;
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole("button", { name: "退出登录" }).click();
  await expect(page.getByText("您已退出登录")).toBeVisible();
}

test("an approver confirms the large claim; a WeChat batch built by one approver, approved by another, is paid", async ({
  page,
  request,
}) => {
  test.setTimeout(120_000);

  // demo-approver: the claim awaiting confirmation, its facts, the confirmation.
  await signIn(page, "demo-approver");
  await expect(page.getByRole("heading", { level: 1, name: "待确认理赔" })).toBeVisible();
  const claimLink = page.getByRole("link", { name: /查看理赔 .*¥30,000\.00/ });
  await expect(claimLink).toBeVisible();
  await expect(page.getByRole("cell", { name: "意外身故或伤残" })).toBeVisible();
  await checkAccessibility(page, "finance");
  await screenshot(page, "finance");

  await claimLink.click();
  await expect(page.getByText("四川省人民医院")).toBeVisible();
  await expect(page.getByRole("heading", { name: "确认", exact: true })).toBeVisible();
  await page.getByRole("button", { name: "确认理赔" }).click();
  const confirm = page.getByRole("dialog", { name: "确认理赔" });
  await expect(confirm).toContainText("¥30,000.00");
  await confirm.getByLabel("备注（可选）").fill("已核对事故证明与伤残鉴定");
  await confirm.getByRole("button", { name: "确认并生成支付" }).click();
  await expect(confirm).toBeHidden();
  await expect(page.getByText("已通过", { exact: true })).toBeVisible(); // the status badge (the trail says 待复核 → 已通过)
  await page.getByRole("link", { name: "查看这笔理赔的支付" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "支付" })).toBeVisible();
  const payoutLink = page.getByRole("link", { name: /支付 \S+（¥30,000\.00）/ });
  await expect(payoutLink).toBeVisible();
  await expect(page.getByRole("row", { name: /¥30,000\.00/ })).toContainText("待支付");
  await signOut(page);

  // demo-finance builds the WeChat batch with that payout (and only it).
  await signIn(page, "demo-finance");
  await page.getByRole("link", { name: "支付批次" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "支付批次" })).toBeVisible();
  await page.getByRole("link", { name: "新建支付批次" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "新建支付批次" })).toBeVisible();
  await expect(page.getByRole("radio", { name: "微信零钱" })).toBeChecked();
  await page.getByRole("checkbox", { name: /选择支付 .*¥30,000\.00/ }).check();
  await expect(page.getByText("已选 1 笔，合计 ¥30,000.00")).toBeVisible();
  await page.getByRole("button", { name: "建立批次" }).click();
  await expect(page.getByRole("heading", { level: 1, name: /^支付批次 / })).toBeVisible();
  await expect(page.getByText("这个批次由您制单，须由另一位财务审批人审批。")).toBeVisible();
  await expect(page.getByRole("button", { name: "审批批次" })).toHaveCount(0);
  const batchUrl = page.url();
  await signOut(page);

  // demo-approver, not the builder, approves it: the worker sends the transfer.
  await signIn(page, "demo-approver");
  await page.goto(batchUrl);
  await expect(page.getByText("待审批")).toBeVisible();
  await page.getByRole("button", { name: "审批批次" }).click();
  const approve = page.getByRole("dialog", { name: "审批支付批次" });
  await expect(approve).toContainText("¥30,000.00");
  await approve.getByRole("button", { name: "批准支付" }).click();
  await expect(approve).toBeHidden();
  await expect(page.getByText("已审批，支付中")).toBeVisible();

  // The rider confirms the transfer in WeChat (the fake's control).
  const fakePay = demo().fakePay;
  let outBillNo = "";
  await expect
    .poll(
      async () => {
        const bills = (await (await request.get(`${fakePay}/fake/bills`)).json()) as FakeBill[];
        const bill = bills.find(
          (b) => b.openid === "demo-openid-13900000003" && b.amount_fen === 3_000_000 && b.state === "WAIT_USER_CONFIRM",
        );
        outBillNo = bill?.out_bill_no ?? "";
        return outBillNo;
      },
      { timeout: 30_000 },
    )
    .not.toBe("");
  const confirmed = await request.post(`${fakePay}/fake/bills/${outBillNo}/confirm`);
  expect(confirmed.ok()).toBe(true);

  // The console shows it paid (the callback reaches the server within seconds).
  const row = page.getByRole("row", { name: /¥30,000\.00/ }).filter({ has: page.getByRole("link") });
  await expect(async () => {
    await page.reload();
    await expect(row.getByText("已支付")).toBeVisible({ timeout: 8_000 });
  }).toPass({ timeout: 60_000, intervals: [1_000, 2_000, 5_000] });
  await expect(page.getByText("已结清")).toBeVisible();
  // Who built it, by name (GET /staff/names), not by id.
  await expect(page.getByText("演示·财务制单", { exact: false }).first()).toBeVisible();
  await checkAccessibility(page, "finance-batch");
  await screenshot(page, "finance-batch");

  // The payout's trail: sent under that out_bill_no, then paid.
  await row.getByRole("link", { name: /支付 / }).click();
  await expect(page.getByRole("heading", { level: 1, name: /^支付 / })).toBeVisible();
  const attempts = page.getByRole("table").filter({ has: page.getByRole("columnheader", { name: "商户单号" }) });
  await expect(attempts.getByRole("row", { name: new RegExp(outBillNo) })).toContainText("SUCCESS");
  await expect(page.getByRole("cell", { name: "支付成功" })).toBeVisible();
});
