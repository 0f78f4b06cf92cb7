// One journey through Gongyou with a client generated from openapi.yaml:
// SMS sign-in → apply for membership → an admin approves → the member's e-card → stations nearby.
//
// Every request and response type below comes from src/api.d.ts (openapi-typescript), so
// `tsc` fails when the contract no longer says what this journey relies on; the run fails
// when the server no longer does what the contract says.
//
// Env: GONGYOU_URL (default http://127.0.0.1:8080), GONGYOU_DEMO_PASSWORD (required),
// GONGYOU_PHONE (default 13800138000; must not be a member yet).
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Schemas = components["schemas"];

const baseUrl = process.env.GONGYOU_URL ?? "http://127.0.0.1:8080";
const demoPassword = process.env.GONGYOU_DEMO_PASSWORD ?? "";
const phone = process.env.GONGYOU_PHONE ?? "13800138000";
if (!demoPassword) throw new Error("GONGYOU_DEMO_PASSWORD is not set");

const anonymous = createClient<paths>({ baseUrl });
const as = (token: string) =>
  createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

let steps = 0;
const started = Date.now();

/** The 2xx body of an openapi-fetch result, or a thrown error naming the step, status and problem. */
function ok<T>(
  step: string,
  result: { data?: T; error?: unknown; response: Response },
): T {
  const { data, error, response } = result;
  if (error !== undefined || data === undefined || !response.ok) {
    throw new Error(
      `${step}: HTTP ${response.status} ${JSON.stringify(error ?? data ?? null)}`,
    );
  }
  steps += 1;
  console.log(`ok ${steps} - ${step} (HTTP ${response.status}, +${Date.now() - started} ms)`);
  return data;
}

function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** A valid 18-character resident ID: region + birth date + sequence + ISO 7064 MOD 11-2 check. */
function residentId(region: string, birth: string, seq: string): string {
  const body = region + birth + seq;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((acc, ch, i) => acc + Number(ch) * (weights[i] ?? 0), 0);
  return body + "10X98765432"[sum % 11];
}

async function journey(): Promise<string> {
  // 1. SMS sign-in (dev mode answers the code), then GET /me.
  const sent: Schemas["SmsCodeSent"] = ok(
    "POST /auth/sms-codes",
    await anonymous.POST("/api/v1/auth/sms-codes", { body: { phone, purpose: "sign_in" } }),
  );
  check(typeof sent.dev_code === "string", "dev mode answers dev_code");

  const worker = ok(
    "POST /auth/sessions/sms",
    await anonymous.POST("/api/v1/auth/sessions/sms", { body: { phone, code: sent.dev_code } }),
  );
  check(worker.token_type === "Bearer", "token_type is Bearer");
  // `Me` is a union tagged by `kind`: narrowing on it must reach the worker's own fields.
  check(worker.user.kind === "worker", `signed in as a worker, got ${worker.user.kind}`);
  check(typeof worker.user.wechat_bound === "boolean", "worker fields are present");
  const me = as(worker.access_token);

  const meAgain = ok("GET /me", await me.GET("/api/v1/me"));
  check(meAgain.kind === "worker" && meAgain.id === worker.user.id, "GET /me is the same worker");

  // 2. Apply for membership.
  const application: Schemas["ApplicationView"] = ok(
    "POST /membership/applications",
    await me.POST("/api/v1/membership/applications", {
      body: {
        real_name: "张小龙",
        id_number: residentId("510104", "19900101", "123"),
        occupation: "delivery_rider",
        platform: "meituan",
        platform_worker_id: "MT-20260001",
        region_code: "510104",
        consents: { personal_information: true, sensitive_personal_information: true },
      },
    }),
  );
  check(application.status === "pending", `application is pending, got ${application.status}`);

  // 3. A union admin (demo-admin, 中华全国总工会) signs in with a password and approves it.
  const admin = ok(
    "POST /auth/sessions/password",
    await anonymous.POST("/api/v1/auth/sessions/password", {
      body: { username: "demo-admin", password: demoPassword },
    }),
  );
  check(admin.user.kind === "staff", `signed in as staff, got ${admin.user.kind}`);
  check(
    admin.user.roles.some((r) => r.role === "union_admin"),
    "demo-admin is a union_admin",
  );
  const membership: Schemas["MembershipView"] = ok(
    "POST /admin/membership/applications/{id}/approve",
    await as(admin.access_token).POST("/api/v1/admin/membership/applications/{id}/approve", {
      params: { path: { id: application.id } },
    }),
  );
  check(membership.status === "active", `membership is active, got ${membership.status}`);
  check(typeof membership.card_number === "string", "the member got a card number");

  // 4. The member's e-card.
  const card: Schemas["Card"] = ok("GET /me/membership/card", await me.GET("/api/v1/me/membership/card"));
  check(card.card_number === membership.card_number, "the card shows the new card number");
  check(card.qr.length > 0 && card.org.id === membership.org.id, "the card has a QR and the member's union");

  // 5. Rest stations nearby (public).
  const nearby: Schemas["NearbyStations"] = ok(
    "GET /stations/nearby",
    await anonymous.GET("/api/v1/stations/nearby", { params: { query: { lat: 30.657, lng: 104.066 } } }),
  );
  const first = nearby.items[0];
  check(first !== undefined, "stations near 天府广场");
  check(
    nearby.items.every((s, i, all) => i === 0 || (all[i - 1]?.distance_m ?? 0) <= s.distance_m),
    "nearest first",
  );

  return (
    `journey ok: ${steps} calls in ${Date.now() - started} ms; card ${card.card_number}, ` +
      `${nearby.items.length} stations nearby, nearest ${first.name} at ${first.distance_m} m`
  );
}

journey().then(
  (summary) => console.log(summary),
  (err: unknown) => {
    console.error(`journey FAILED after ${steps} calls: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
