// The claims reviewer (issue: "a reviewer returns and then approves a claim"): the queue
// with the demo's submitted claims; 李明's hospital allowance opened, its PDF documents
// drawn by pdf.js, taken and returned for a readable discharge summary; 李明 (through the
// API, as the app would) replaces it with a photo (a real PNG), adds an expense list (a
// real PDF whose Chinese font is not embedded) and two scanned invoices (PDFs whose page is
// a JPEG 2000 or a JBIG2 image, drawn by pdf.js's wasm decoders) and resubmits; the reviewer
// sees them all inline and approves the same claim. The 30,000.00 lump sum awaiting a
// finance approver's confirmation is left alone (it is the finance spec's).
import { readFileSync } from "node:fs";
import type { APIRequestContext, Browser, Locator } from "@playwright/test";
import { checkAccessibility, expect, screenshot, signIn, test } from "./fixtures";

/** 李明, the demo worker whose hospital allowance (1000.00) waits for review. */
const LI_MING = "13900000001";

/** A worker's bearer token, signed in by SMS as the app does (the demo answers the code). */
async function workerToken(request: APIRequestContext, base: string, phone: string): Promise<string> {
  const code = await request.post(`${base}/api/v1/auth/sms-codes`, { data: { phone, purpose: "sign_in" } });
  expect(code.status(), await code.text()).toBe(202);
  const { dev_code } = (await code.json()) as { dev_code?: string };
  expect(dev_code, "the demo answers the SMS code").toBeTruthy();
  const session = await request.post(`${base}/api/v1/auth/sessions/sms`, { data: { phone, code: dev_code } });
  expect(session.status(), await session.text()).toBe(200);
  return ((await session.json()) as { access_token: string }).access_token;
}

/** A real PNG: a photographed discharge summary, drawn in a page of its own and captured. */
async function dischargeSummaryPhoto(browser: Browser): Promise<Buffer> {
  const context = await browser.newContext({ viewport: { width: 600, height: 420 } });
  const page = await context.newPage();
  await page.setContent(`<body style="margin:0;background:#f4f1ea;font:18px sans-serif;color:#222">
    <div style="margin:24px;padding:20px;background:#fff;border:1px solid #999">
      <h1 style="font-size:24px;text-align:center">四川大学华西医院 出院小结</h1>
      <p>姓名：李明　　科室：骨科　　住院号：2026112801</p>
      <p>入院诊断：右侧桡骨远端骨折</p>
      <p>住院经过：入院后行切开复位内固定术，术后恢复良好。</p>
      <p>出院医嘱：石膏固定六周，定期复查。</p>
      <p style="text-align:right">（演示用样本，并非真实病历）</p>
    </div></body>`);
  const png = await page.screenshot({ type: "png" });
  await context.close();
  return png;
}

/**
 * A real small PDF as Chinese hospitals and e-invoice systems often make them: its Chinese
 * font (STSong-Light, UniGB-UCS2-H) not embedded, so pdf.js needs the GB CMaps to draw it.
 */
function expenseListPdf(): Buffer {
  const lines = ["四川大学华西医院 住院费用清单", "床位费 450.00 元  检查费 1280.00 元", "（演示用样本，并非真实票据）"];
  const ucs2 = (t: string) => [...t].map((ch) => (ch.codePointAt(0) ?? 32).toString(16).padStart(4, "0")).join("");
  const stream = lines.map((t, i) => `BT /F1 ${i === 0 ? 22 : 16} Tf 50 ${780 - i * 40} Td <${ucs2(t)}> Tj ET`).join("\n");
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>",
    "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 7 0 R /DW 1000 >>",
    "<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
  ];
  let pdf = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) pdf += `${String(o).padStart(10, "0")} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, "latin1");
}

/** A scanned-style PDF of e2e/files (see its README): one page, one JPEG 2000 or JBIG2 image. */
function scannedPdf(name: string): Buffer {
  return readFileSync(new URL(`./files/${name}`, import.meta.url));
}

/** The canvas has been drawn on (some dark pixels: the page's text). */
async function expectDrawn(canvas: Locator): Promise<void> {
  await expect(canvas).toHaveAttribute("data-rendered", "true");
  const dark = await canvas.evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const ctx = c.getContext("2d");
    if (!ctx || c.width === 0 || c.height === 0) return 0;
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if ((data[i] ?? 255) < 128 && (data[i + 3] ?? 0) > 0) n++;
    return n;
  });
  expect(dark, "the PDF page shows its text").toBeGreaterThan(50);
}

test("a reviewer returns a claim for a readable document, then approves it once resubmitted", async ({
  page,
  request,
  browser,
}) => {
  await signIn(page, "demo-reviewer");
  // One role: its main page, the queue, is the home page.
  await expect(page.getByRole("heading", { level: 1, name: "审核队列" })).toBeVisible();
  const rows = page.getByRole("row");
  const allowanceRow = rows.filter({ hasText: "¥1,000.00" });
  await expect(allowanceRow).toContainText("住院津贴");
  await expect(allowanceRow).toContainText("已提交");
  await expect(allowanceRow).toContainText("锦江区新就业形态劳动者工会");
  await expect(rows.filter({ hasText: "¥2,560.00" })).toContainText("医疗费用报销");
  // The lump sum awaiting a finance approver's confirmation is there, and left alone.
  await expect(rows.filter({ hasText: "¥30,000.00" })).toContainText("待复核");
  await checkAccessibility(page, "reviewer");
  await screenshot(page, "reviewer");

  // Filters live in the query string: only the submitted ones.
  await page.getByLabel("状态").selectOption("submitted");
  await page.getByRole("button", { name: "筛选", exact: true }).click();
  await expect(page).toHaveURL(/[?&]status=submitted/);
  await expect(rows.filter({ hasText: "¥30,000.00" })).toHaveCount(0);
  await expect(allowanceRow).toBeVisible();

  // 李明's hospital allowance: its four PDFs drawn inline.
  await allowanceRow.getByRole("link", { name: "住院津贴" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "住院津贴理赔申请" })).toBeVisible();
  const claimUrl = page.url();
  const claimId = /\/review\/claims\/([^/?#]+)/.exec(claimUrl)?.[1] ?? "";
  expect(claimId).not.toBe("");
  await expect(page.getByText("四川大学华西医院")).toBeVisible();
  await expect(page.getByText("提交时已通过全部规则核验")).toBeVisible();
  for (const name of ["身份证人像面", "身份证国徽面", "病案首页", "出院小结"]) {
    await expectDrawn(page.getByRole("img", { name: `${name}，第 1 页，共 1 页` }));
  }
  await checkAccessibility(page, "reviewer-claim");
  await screenshot(page, "reviewer-claim");

  // Take it, then return it for a readable discharge summary.
  const actions = page.getByRole("region", { name: "审核操作" });
  await actions.getByRole("button", { name: "开始审核" }).click();
  await expect(actions).toContainText("审核中");
  await actions.getByRole("button", { name: "退回补充材料" }).click();
  const giveBack = page.getByRole("dialog", { name: "退回申请人补充材料" });
  await giveBack.getByRole("button", { name: "确认退回" }).click();
  await expect(giveBack.getByText("请至少选择一个退回原因")).toBeVisible();
  await giveBack.getByLabel("材料照片看不清").check();
  await giveBack.getByLabel("需要补充或更正的内容").fill("出院小结照片模糊，请在光线充足处重新拍摄上传");
  await checkAccessibility(page, "reviewer-return-dialog");
  await giveBack.getByRole("button", { name: "确认退回" }).click();
  await expect(giveBack).toBeHidden();
  await expect(actions).toContainText("已退回补充材料");
  const trail = page.getByRole("region", { name: "处理记录" });
  await expect(trail.getByRole("row").filter({ hasText: "材料照片看不清" })).toContainText("出院小结照片模糊");

  // 李明, in the app (here through the API): the blurry summary out, a photo in, resubmitted.
  // The API of the console under test (the page's own origin).
  const base = new URL(page.url()).origin;
  const token = await workerToken(request, base, LI_MING);
  const auth = { Authorization: `Bearer ${token}` };
  const mine = await request.get(`${base}/api/v1/claims/${claimId}`, { headers: auth });
  expect(mine.status(), `${mine.url()} ${await mine.text()}`).toBe(200);
  const { documents } = (await mine.json()) as { documents: { id: string; kind: string }[] };
  const blurry = documents.find((d) => d.kind === "discharge_summary");
  expect(blurry).toBeDefined();
  const removed = await request.delete(`${base}/api/v1/claims/${claimId}/documents/${blurry?.id ?? ""}`, { headers: auth });
  expect(removed.status(), await removed.text()).toBe(204);
  const uploaded = await request.post(`${base}/api/v1/claims/${claimId}/documents`, {
    headers: auth,
    multipart: {
      kind: "discharge_summary",
      file: { name: "discharge-summary.png", mimeType: "image/png", buffer: await dischargeSummaryPhoto(browser) },
    },
  });
  expect(uploaded.status(), await uploaded.text()).toBe(201);
  const list = await request.post(`${base}/api/v1/claims/${claimId}/documents`, {
    headers: auth,
    multipart: { kind: "other", file: { name: "expense-list.pdf", mimeType: "application/pdf", buffer: expenseListPdf() } },
  });
  expect(list.status(), await list.text()).toBe(201);
  for (const name of ["scanned-invoice-jpx.pdf", "scanned-invoice-jbig2.pdf"]) {
    const scan = await request.post(`${base}/api/v1/claims/${claimId}/documents`, {
      headers: auth,
      multipart: { kind: "invoice", file: { name, mimeType: "application/pdf", buffer: scannedPdf(name) } },
    });
    expect(scan.status(), await scan.text()).toBe(201);
  }
  const resubmitted = await request.post(`${base}/api/v1/claims/${claimId}/resubmit`, { headers: auth });
  expect(resubmitted.status(), await resubmitted.text()).toBe(200);

  // Back in the queue; the photo shows inline; taken again and approved.
  await page.reload();
  await expect(actions).toContainText("已提交");
  const photo = page.getByRole("img", { name: "出院小结（申请人上传的照片）" });
  await expect(photo).toBeVisible();
  await expect.poll(() => photo.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
  await expectDrawn(page.getByRole("img", { name: "病案首页，第 1 页，共 1 页" }));
  // The expense list's Chinese text is drawn (its font is not embedded: the GB CMaps).
  await expectDrawn(page.getByRole("img", { name: "其他材料，第 1 页，共 1 页" }));
  // The scanned invoices: a JPEG 2000 page image (openjpeg.wasm) and a JBIG2 one (jbig2.wasm),
  // decoded under the CSP ('wasm-unsafe-eval'), with no "image could not be decoded" notice.
  await expectDrawn(page.getByRole("img", { name: "医疗费用发票（第 1 份），第 1 页，共 1 页" }));
  await expectDrawn(page.getByRole("img", { name: "医疗费用发票（第 2 份），第 1 页，共 1 页" }));
  await expect(page.getByText("图片无法解码")).toHaveCount(0);
  await screenshot(page, "reviewer-claim-scans");
  await actions.getByRole("button", { name: "开始审核" }).click();
  await expect(actions).toContainText("审核中");
  await actions.getByRole("button", { name: "批准" }).click();
  const approve = page.getByRole("dialog", { name: "批准理赔申请" });
  await expect(approve.getByLabel("批准金额（元）")).toHaveValue("1000.00");
  await approve.getByRole("button", { name: "确认批准" }).click();
  await expect(approve).toBeHidden();
  await expect(actions).toContainText("已通过");
  await expect(page.getByRole("heading", { level: 1 }).locator("..")).toContainText("已通过");
  await expect(trail.getByRole("row").filter({ hasText: "¥1,000.00" }).last()).toContainText("已通过");
  await expect(photo).toBeVisible();
  await screenshot(page, "reviewer-claim-approved");

  // The queue no longer holds it.
  await page.getByRole("link", { name: "← 返回审核队列" }).click();
  await expect(page).toHaveURL(/[?&]status=submitted/);
  await expect(rows.filter({ hasText: "¥1,000.00" })).toHaveCount(0);

  // Two reviewers at once: while 王芳's reimbursement is open here, it is taken and returned
  // in another tab; taking it here then meets the API's 409, shown with its code, and the
  // page shows the claim as it now is.
  const reimbursementRow = rows.filter({ hasText: "¥2,560.00" });
  await reimbursementRow.getByRole("link", { name: "医疗费用报销" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "医疗费用报销理赔申请" })).toBeVisible();
  await expect(actions.getByRole("button", { name: "开始审核" })).toBeVisible();
  const reimbursementId = /\/review\/claims\/([^/?#]+)/.exec(page.url())?.[1] ?? "";
  const staffToken = await page.evaluate(() => {
    const raw = sessionStorage.getItem("gongyou.console.session");
    return raw ? (JSON.parse(raw) as { access: string }).access : "";
  });
  const staff = { Authorization: `Bearer ${staffToken}` };
  const taken = await request.post(`${base}/api/v1/review/claims/${reimbursementId}/assign`, { headers: staff });
  expect(taken.status(), await taken.text()).toBe(200);
  const returned = await request.post(`${base}/api/v1/review/claims/${reimbursementId}/return`, {
    headers: staff,
    data: { reasons: ["invoice_unclear"], note: "发票号码看不清，请重新拍摄" },
  });
  expect(returned.status(), await returned.text()).toBe(200);
  await actions.getByRole("button", { name: "开始审核" }).click();
  const conflict = actions.getByRole("alert");
  await expect(conflict).toContainText("claim.illegal_transition");
  await expect(conflict).toContainText("HTTP 409");
  await expect(actions).toContainText("已退回申请人补充材料");
  await expect(trail.getByRole("row").filter({ hasText: "发票信息不清楚" })).toContainText("发票号码看不清");
});
