// Starts one fresh `gongyou demo` (SQLite in a temporary directory, a random password, a
// free port) and writes where it is to e2e/.demo/demo.json for the specs. With
// GONGYOU_CONSOLE_URL set (a demo you started, or `npm run dev`), uses that instead; then
// GONGYOU_DEMO_PASSWORD and GONGYOU_FAKE_PAY_URL must be set too.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// Per run (several runs against different demos can share a checkout).
export const DEMO_FILE = process.env.GONGYOU_E2E_DEMO_FILE ?? join(here, ".demo", "demo.json");

export interface Demo {
  url: string;
  password: string;
  fakePay: string;
  pid?: number;
  dataDir?: string;
}

export default async function globalSetup(): Promise<void> {
  mkdirSync(dirname(DEMO_FILE), { recursive: true });
  const given = process.env.GONGYOU_CONSOLE_URL;
  if (given) {
    const demo: Demo = {
      url: given.replace(/\/$/, ""),
      password: process.env.GONGYOU_DEMO_PASSWORD ?? "",
      fakePay: process.env.GONGYOU_FAKE_PAY_URL ?? "",
    };
    writeFileSync(DEMO_FILE, JSON.stringify(demo));
    return;
  }
  const bin = resolve(process.env.GONGYOU_BIN ?? join(here, "..", "..", "target", "debug", "gongyou"));
  const dataDir = mkdtempSync(join(tmpdir(), "gongyou-console-e2e-"));
  const password = `e2e-${Math.random().toString(36).slice(2, 12)}`;
  const logPath = join(dataDir, "server.log");
  const log = openSync(logPath, "w");
  const child = spawn(bin, ["demo"], {
    env: {
      ...process.env,
      GONGYOU_DATA_DIR: dataDir,
      GONGYOU_HTTP_ADDR: "127.0.0.1:0",
      GONGYOU_DEMO_PASSWORD: password,
      // 3-finance pays the demo's 30,000.00 claim through the fake WeChat Pay: above the
      // default per-transfer limit (5,000) it could only go by bank.
      GONGYOU_PAYOUT_WECHAT_LIMIT_YUAN: "50000",
    },
    stdio: ["ignore", log, log],
    detached: true,
  });
  child.unref();
  const deadline = Date.now() + 120_000;
  let url = "";
  let fakePay = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the demo exited:\n${readFileSync(logPath, "utf8").slice(-3000)}`);
    const text = readFileSync(logPath, "utf8");
    const addr = /"message":"listening".*?"addr":"([^"]+)"/.exec(text)?.[1];
    fakePay = /fake WeChat Pay at (http:\/\/\S+)/.exec(text)?.[1] ?? "";
    if (addr && fakePay) {
      try {
        const r = await fetch(`http://${addr}/readyz`);
        if (r.ok) {
          url = `http://${addr}`;
          break;
        }
      } catch {
        // not yet
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!url) throw new Error(`the demo did not become ready in 120 s:\n${readFileSync(logPath, "utf8").slice(-3000)}`);
  const demo: Demo = { url, password, fakePay, pid: child.pid, dataDir };
  writeFileSync(DEMO_FILE, JSON.stringify(demo));
  console.log(`demo at ${url} (fake WeChat Pay at ${fakePay}; log ${logPath})`);
}
