import { readFileSync, rmSync } from "node:fs";
import { DEMO_FILE, type Demo } from "./global-setup";

export default async function globalTeardown(): Promise<void> {
  let demo: Demo;
  try {
    demo = JSON.parse(readFileSync(DEMO_FILE, "utf8")) as Demo;
  } catch {
    return;
  }
  if (demo.pid) {
    try {
      process.kill(-demo.pid, "SIGTERM");
    } catch {
      // already gone
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (demo.dataDir && !process.env.GONGYOU_E2E_KEEP) rmSync(demo.dataDir, { recursive: true, force: true });
}
