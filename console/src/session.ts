// The signed-in staff session: tokens kept in sessionStorage (one tab, gone when it closes),
// the caller (`GET /me`), a refresh before the access token expires and on a 401, sign-out.
// Workers are not staff: the console refuses their sessions.
import type { components } from "./api/schema";

type Schemas = components["schemas"];
export type StaffUser = Schemas["MeStaff"];
export type Role = Schemas["Role"];
type Tokens = Schemas["TokenResponse"];

const KEY = "gongyou.console.session";

interface Stored {
  access: string;
  refresh: string;
  /** Epoch ms when the access token expires. */
  expires: number;
  user: StaffUser;
}

type Listener = () => void;

class Session {
  private stored: Stored | null = null;
  private listeners = new Set<Listener>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<string | null> | null = null;
  /** Bumped when the session ends, so a refresh answered afterwards is dropped. */
  private generation = 0;

  constructor() {
    try {
      const raw = sessionStorage.getItem(KEY);
      if (raw) this.stored = JSON.parse(raw) as Stored;
    } catch {
      this.stored = null;
    }
    if (this.stored) this.schedule();
  }

  user(): StaffUser | null {
    return this.stored?.user ?? null;
  }

  accessToken(): string | null {
    return this.stored?.access ?? null;
  }

  /** True when signed in and the access token expires within `ms`. */
  expiresWithin(ms: number): boolean {
    return this.stored !== null && this.stored.expires - Date.now() < ms;
  }

  roles(): Role[] {
    return [...new Set(this.stored?.user.roles.map((r) => r.role) ?? [])];
  }

  has(role: Role): boolean {
    return this.roles().includes(role);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Keeps a sign-in's tokens; false when the account is a worker's. */
  accept(tokens: Tokens): boolean {
    if (tokens.user.kind !== "staff") return false;
    this.store({
      access: tokens.access_token,
      refresh: tokens.refresh_token,
      expires: Date.now() + tokens.expires_in * 1000,
      user: tokens.user as StaffUser,
    });
    return true;
  }

  updateUser(user: StaffUser): void {
    if (this.stored) this.store({ ...this.stored, user });
  }

  /** After a 401 on a request sent with `sentAuthorization`: a new access token, or null. */
  async refreshAfter401(sentAuthorization: string | null): Promise<string | null> {
    const current = this.stored?.access;
    if (current && sentAuthorization !== `Bearer ${current}`) return current; // refreshed meanwhile
    return this.refresh();
  }

  /** One refresh at a time; a refused refresh ends the session here, a failed one does not. */
  refresh(): Promise<string | null> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<string | null> {
    const refresh = this.stored?.refresh;
    if (!refresh) return null;
    // A sign-out (or another sign-in) while the refresh is on its way wins over its answer.
    const generation = this.generation;
    let response: Response;
    let tokens: Tokens;
    try {
      response = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refresh }),
      });
      if (generation !== this.generation) return null;
      if (response.status === 400 || response.status === 401) {
        // Unknown, expired, ended or reused: this session is over.
        this.clear("expired");
        return null;
      }
      // 429, 5xx (a deploy, a database failover): keep the session, a later request
      // tries again; the access token may still be good for a while.
      if (!response.ok) return null;
      tokens = (await response.json()) as Tokens;
    } catch {
      return null; // offline: keep the session, the next request tries again
    }
    if (generation !== this.generation) return null;
    if (!this.accept(tokens)) {
      this.clear("expired");
      return null;
    }
    return tokens.access_token;
  }

  /** Signs out on the server (best effort) and here. */
  async signOut(): Promise<void> {
    const token = this.accessToken();
    if (token) {
      try {
        await fetch("/api/v1/auth/sessions/current", {
          method: "DELETE",
          headers: { Authorization: `Bearer ${token}` },
        });
      } catch {
        // The tokens are dropped here anyway; the refresh token expires on its own.
      }
    }
    this.clear("signed_out");
  }

  /** Why the last session ended (shown on the sign-in page), read once. */
  endedBecause: "expired" | "signed_out" | null = null;

  private clear(why: "expired" | "signed_out"): void {
    this.generation += 1;
    this.endedBecause = why;
    this.stored = null;
    sessionStorage.removeItem(KEY);
    if (this.timer) clearTimeout(this.timer);
    this.emit();
  }

  private store(stored: Stored): void {
    this.stored = stored;
    sessionStorage.setItem(KEY, JSON.stringify(stored));
    this.schedule();
    this.emit();
  }

  /** Refreshes a minute before the access token expires, so a page never waits on it. */
  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    if (!this.stored) return;
    const due = Math.max(5_000, this.stored.expires - Date.now() - 60_000);
    this.timer = setTimeout(() => {
      // A failed (not refused) refresh is tried again shortly.
      void this.refresh().then((token) => {
        if (!token && this.stored) this.schedule();
      });
    }, due);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

export const session = new Session();
