// A station manager edits a station's opening hours and sees them in the public search
// (what anonymous workers see); verifies a member's e-card at the station (a worker signed
// in by SMS, applied, approved by demo-admin through the API); resolves a worker's report;
// reads the visits; and meets the API's 412 when someone else saved first.
import type { APIRequestContext } from "@playwright/test";
import { checkAccessibility, demo, expect, screenshot, signIn, test } from "./fixtures";

const WEEKDAY_KEYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const WEEKDAY_ZH: Record<string, string> = { mon: "周一", tue: "周二", wed: "周三", thu: "周四", fri: "周五", sat: "周六", sun: "周日" };

/** Today's weekday in Asia/Shanghai, as the API keys it. */
// One instant for the whole run: the weekday edited and the day whose visits are read agree
// even when a run crosses midnight in Shanghai.
const NOW = new Date();

function todayKey(): string {
  const name = new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Shanghai", weekday: "short" }).format(NOW);
  const key = name.slice(0, 3).toLowerCase();
  return WEEKDAY_KEYS.find((k) => k === key) ?? "mon";
}

/** A valid 18-character resident ID (ISO 7064 MOD 11-2 check digit). */
function residentId(region: string, birth: string, seq: string): string {
  const body = region + birth + seq;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((acc, ch, i) => acc + Number(ch) * (weights[i] ?? 0), 0);
  return body + "10X98765432"[sum % 11];
}

async function json<T>(r: Promise<import("@playwright/test").APIResponse>, what: string): Promise<T> {
  const res = await r;
  expect(res.ok(), `${what}: HTTP ${res.status()} ${await res.text()}`).toBeTruthy();
  return (await res.json()) as T;
}

/** A PNG of a QR code whose text is QR_TEXT (made with python-qrcode for this spec). */
const QR_TEXT = "GYC1.e2e-photo.not-a-real-card";
const QR_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAN4AAADeAQAAAAB6HIMaAAABSUlEQVR4nO2YYarEIAyEAzmAR/LqHskDFOYlE+0Ku/0/Dyoiq58/GjuZ2DU8t8te+EJdaNm6A9ExO2bOXRXW2tUG+fDgXBSF05zQopvFxopMGeZh84f/E3hZkodQZCBl4tRyKBo/NCQEVwrOu//ITx1YbUmbR/7lfULQSazFLEfj6Kow1kBX40LnezBd2FDSuLPQaMyaELti0I9xK0UUUss4lBLByUIW5IF0jrTh2HWEoge3kIvnxtldFYIqjo5lb+MwDD1Iz3AcxiYM+ezr8as+R4cqDCdmCvZSSk7PONVgWsWoMbOwjf02FGG5WkRzpbENVrkhC6tFBFXlqO4uC2lte7mNdalUhZV5WdzS3qy2QBaubzVLsVAmx5VHFAI785iOEIfr1HlH+wpFCGL9fxO9bDhv7qpwpSArRl3br4+o5eBTe+ELVeEfqA4671vF53UAAAAASUVORK5CYII=";

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

interface StationJson {
  id: string;
  name: string;
  lat: number;
  lng: number;
  version: number;
  notice: string | null;
  amenities: string[];
  hours: { weekly: Record<string, { open: string; close: string }[]> };
}

/** A worker with an active membership (SMS sign-in, application, demo-admin approves) and a report at `stationId`. */
async function memberAtStation(
  request: APIRequestContext,
  stationId: string,
  note: string,
): Promise<{ qr: string; name: string }> {
  const phone = `139${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
  const sent = await json<{ dev_code: string }>(
    request.post("/api/v1/auth/sms-codes", { data: { phone, purpose: "sign_in" } }),
    "sms code",
  );
  const worker = await json<{ access_token: string }>(
    request.post("/api/v1/auth/sessions/sms", { data: { phone, code: sent.dev_code } }),
    "sms sign-in",
  );
  const seq = String(Math.floor(Math.random() * 1000)).padStart(3, "0");
  const application = await json<{ id: string }>(
    request.post("/api/v1/membership/applications", {
      headers: auth(worker.access_token),
      data: {
        real_name: "王驿管",
        id_number: residentId("510104", "19920315", seq),
        occupation: "delivery_rider",
        platform: "meituan",
        platform_worker_id: `MT-E2E-${seq}${phone.slice(-4)}`,
        region_code: "510104",
        consents: { personal_information: true, sensitive_personal_information: true },
      },
    }),
    "apply",
  );
  const admin = await json<{ access_token: string }>(
    request.post("/api/v1/auth/sessions/password", { data: { username: "demo-admin", password: demo().password } }),
    "admin sign-in",
  );
  await json(
    request.post(`/api/v1/admin/membership/applications/${application.id}/approve`, { headers: auth(admin.access_token) }),
    "approve",
  );
  const card = await json<{ qr: string; name: string }>(
    request.get("/api/v1/me/membership/card", { headers: auth(worker.access_token) }),
    "card",
  );
  await json(
    request.post(`/api/v1/stations/${stationId}/reports`, {
      headers: { ...auth(worker.access_token), "Idempotency-Key": crypto.randomUUID() },
      data: { kind: "amenity_missing", note },
    }),
    "report",
  );
  return card;
}

test("a manager edits hours and sees them in the public search", async ({ page, request }) => {
  const manager = await json<{ access_token: string }>(
    request.post("/api/v1/auth/sessions/password", { data: { username: "demo-manager", password: demo().password } }),
    "manager sign-in",
  );
  const mine = await json<{ items: StationJson[] }>(request.get("/api/v1/me/stations", { headers: auth(manager.access_token) }), "my stations");
  const station = mine.items[0];
  if (!station) throw new Error("demo-manager has no stations");
  const tag = Math.random().toString(36).slice(2, 8);
  const note = `饮水机没有热水了（${tag}）`;
  const member = await memberAtStation(request, station.id, note);

  // My stations.
  await signIn(page, "demo-manager");
  await expect(page.getByRole("heading", { name: "我的驿站", level: 1 })).toBeVisible();
  await expect(page.getByRole("table", { name: /我负责的驿站/ }).getByRole("row")).toHaveCount(mine.items.length + 1);
  await checkAccessibility(page, "manager");
  await screenshot(page, "manager");

  // The station page.
  await page.getByRole("link", { name: station.name, exact: true }).click();
  await expect(page.getByRole("heading", { name: station.name, level: 1 })).toBeVisible();
  await expect(page.getByRole("heading", { name: "问题反馈" })).toBeVisible();
  await expect(page.getByRole("cell", { name: note })).toBeVisible();
  await expect(page.getByRole("img", { name: "每日到访人次柱状图" })).toBeVisible();
  await checkAccessibility(page, "manager-station");
  await screenshot(page, "manager-station");

  // Today's hours (Asia/Shanghai) become one distinctive span; a notice and an amenity too.
  const day = todayKey();
  const zh = WEEKDAY_ZH[day] ?? "周一";
  const spans = station.hours.weekly[day]?.length ?? 0;
  for (let i = spans; i >= 2; i--) {
    await page.getByRole("button", { name: `删除 ${zh} 第 ${i} 段`, exact: true }).click();
  }
  if (spans === 0) await page.getByRole("button", { name: `添加时段 ${zh}`, exact: true }).click();
  await page.getByLabel(`${zh} 第 1 段 开始`, { exact: true }).fill("06:15");
  await page.getByLabel(`${zh} 第 1 段 结束`, { exact: true }).fill("23:45");
  await page.getByLabel("公告").fill("今日提供绿豆汤（端到端测试）");
  const books = page.getByRole("checkbox", { name: "图书" });
  const hadBooks = station.amenities.includes("books");
  await books.setChecked(!hadBooks);
  await page.getByRole("button", { name: "保存修改" }).click();
  await expect(page.getByText(`（第 ${station.version + 1} 版）`)).toBeVisible();
  await expect(page.getByText("没有未保存的修改")).toBeVisible();

  // What anonymous workers see: the station itself, and the nearby search.
  const anonymous = await json<StationJson>(request.get(`/api/v1/stations/${station.id}`), "public station");
  expect(anonymous.hours.weekly[day]).toEqual([{ open: "06:15", close: "23:45" }]);
  expect(anonymous.notice).toBe("今日提供绿豆汤（端到端测试）");
  expect(anonymous.amenities.includes("books")).toBe(!hadBooks);
  await expect
    .poll(
      async () => {
        const near = await json<{ items: { id: string; today_hours: { open: string; close: string }[] }[] }>(
          request.get("/api/v1/stations/nearby", {
            params: { lat: station.lat, lng: station.lng, radius_m: 200, limit: 100 },
          }),
          "nearby",
        );
        return near.items.find((s) => s.id === station.id)?.today_hours;
      },
      { timeout: 10_000 },
    )
    .toEqual([{ open: "06:15", close: "23:45" }]);

  // Someone else saves first: the API's 412 is shown, and the latest version can be loaded.
  await json(
    request.patch(`/api/v1/stations/${station.id}`, {
      headers: { ...auth(manager.access_token), "If-Match": `"v${station.version + 1}"` },
      data: { notice: "另一位管理员的公告" },
    }),
    "concurrent edit",
  );
  await page.getByLabel("公告").fill("我的公告");
  await page.getByRole("button", { name: "保存修改" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "station.version_mismatch" })).toBeVisible();
  await page.getByRole("button", { name: /载入最新版本/ }).click();
  await expect(page.getByLabel("公告")).toHaveValue("另一位管理员的公告");

  // Resolve the worker's report.
  await page.getByRole("row").filter({ hasText: note }).getByRole("button", { name: /^处理 设施缺失或损坏/ }).click();
  const dialog = page.getByRole("dialog", { name: "处理问题反馈" });
  await dialog.getByLabel("处理说明").fill(`已更换饮水机滤芯，热水恢复（${tag}）`);
  await dialog.getByRole("button", { name: "标记为已处理" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("cell", { name: note })).toBeHidden();
  await page.getByLabel("显示").selectOption("resolved");
  await expect(page.getByRole("row").filter({ hasText: note })).toContainText(`已更换饮水机滤芯，热水恢复（${tag}）`);

  // Verify the member's card at this station: a forged code first, then the real one.
  await page.getByRole("link", { name: "在此驿站核验会员卡" }).click();
  await expect(page.getByRole("heading", { name: "核验会员卡", level: 1 })).toBeVisible();
  await expect(page.getByLabel("核验地点")).toHaveValue(station.id);
  // A photo of a QR code (not a member's: its text is made up) is decoded in the browser and checked.
  await page.getByLabel("拍照或上传二维码照片").setInputFiles({
    name: "qr.png",
    mimeType: "image/png",
    buffer: Buffer.from(QR_PNG, "base64"),
  });
  await expect(page.getByLabel("二维码内容")).toHaveValue(QR_TEXT);
  const result = page.getByRole("region", { name: "核验结果" });
  await expect(result).toContainText("无效二维码");
  await page.getByRole("button", { name: "核验下一张" }).click();
  await page.getByLabel("二维码内容").fill(member.qr);
  await page.getByRole("button", { name: "核验", exact: true }).click();
  await expect(result).toContainText("有效会员");
  await expect(result).toContainText(member.name);
  await checkAccessibility(page, "manager-verify-card");

  // The verification counts as a visit today: the stats show it.
  await page.goBack();
  await expect(page.getByRole("heading", { name: station.name, level: 1 })).toBeVisible();
  await page.getByText("以表格查看每日数据").click();
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(NOW);
  const todayRow = page.getByRole("table", { name: /每日到访/ }).getByRole("row", { name: new RegExp(`^${today}`) });
  // The row header is the date; the first cell is the visits.
  await expect(todayRow.getByRole("cell").first()).not.toHaveText("0");
  await expect(page.getByRole("img", { name: "每日到访人次柱状图" })).toBeVisible();
});
