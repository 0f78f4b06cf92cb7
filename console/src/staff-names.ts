// Colleagues' display names (GET /api/v1/staff/names): trails, batches and claims name the
// staff who acted by id, and most roles may not list staff. `nameOf` answers what is known
// and asks for the rest in one batched request; the app rerenders when names arrive.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api/client";
import { session } from "./session";

const known = new Map<string, string>();
const asked = new Set<string>();
let waiting = new Set<string>();
let flushing: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<() => void>();
const ID = /^[0-9a-z-]{1,64}$/;
const BATCH = 100;

/** A staff member's display name, or undefined while it is asked for (or unknown). */
export function nameOf(id: string): string | undefined {
  const name = known.get(id);
  if (name !== undefined || asked.has(id) || !ID.test(id) || !session.user()) return name;
  asked.add(id);
  waiting.add(id);
  flushing ??= setTimeout(() => void flush(), 0);
  return undefined;
}

async function flush(): Promise<void> {
  flushing = undefined;
  const ids = [...waiting];
  waiting = new Set();
  for (let i = 0; i < ids.length; i += BATCH) {
    const chunk = ids.slice(i, i + BATCH);
    try {
      const { data } = await api.GET("/api/v1/staff/names", { params: { query: { ids: chunk.join(",") } } });
      for (const s of data?.items ?? []) known.set(s.id, s.display_name);
    } catch {
      // Names are a convenience: the id is shown instead; asked again after a reload.
      for (const id of chunk) asked.delete(id);
    }
  }
  for (const l of listeners) l();
}

/**
 * Who a staff id is, in trails and facts: `me` for the caller, the display name once known,
 * else a short id.
 */
export function staffLabel(id: string | null | undefined, me = "您"): string {
  if (!id) return "—";
  if (id === session.user()?.id) return me;
  return nameOf(id) ?? `工作人员 ${id.replace(/-/g, "").slice(-8)}`;
}

/** Rerenders the caller when names arrive (the app calls it once, at the top). */
export function useStaffNamesArrive(): void {
  const [, set] = useState(0);
  useEffect(() => {
    const l = () => set((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
}

// Another sign-in in this tab starts afresh.
session.subscribe(() => {
  if (!session.user()) {
    known.clear();
    asked.clear();
  }
});
