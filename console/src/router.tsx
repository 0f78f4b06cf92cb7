// A small history router under /console/: paths like `/claims/:id`, links that keep the
// browser's own navigation (middle click, new tab), query strings as page state.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";

export const BASE = "/console";

type Listener = () => void;
const listeners = new Set<Listener>();

function emit(): void {
  for (const l of listeners) l();
}
window.addEventListener("popstate", emit);

/** The path inside the console, e.g. `/claims/abc` (no base, no query). */
export function currentPath(): string {
  const path = window.location.pathname;
  const inner = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  return inner === "" ? "/" : inner;
}

export function currentQuery(): URLSearchParams {
  return new URLSearchParams(window.location.search);
}

/** Goes to a console path (with an optional query); `replace` keeps history short. */
export function navigate(to: string, replace = false): void {
  const url = BASE + (to.startsWith("/") ? to : `/${to}`);
  if (replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  window.scrollTo(0, 0);
  emit();
}

/** Rerenders on navigation; answers the current path and query. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, set] = useState(0);
  useEffect(() => {
    const l = () => set((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return { path: currentPath(), query: currentQuery() };
}

/** Matches `/claims/:id` against `/claims/abc` → `{ id: "abc" }`, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/").filter(Boolean);
  const a = path.split("/").filter(Boolean);
  if (p.length !== a.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const want = p[i] ?? "";
    const got = a[i] ?? "";
    if (want.startsWith(":")) params[want.slice(1)] = decodeURIComponent(got);
    else if (want !== got) return null;
  }
  return params;
}

type LinkProps = Omit<JSX.HTMLAttributes<HTMLAnchorElement>, "href"> & {
  to: string;
  children: ComponentChildren;
};

/** A real link (`href` under the base) that navigates in place on a plain click. */
export function Link({ to, children, ...rest }: LinkProps) {
  const href = BASE + (to.startsWith("/") ? to : `/${to}`);
  return (
    <a
      {...rest}
      href={href}
      onClick={(e: MouseEvent) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/** Sets the query string of the current page (filters, cursors) without a new history entry. */
export function setQuery(values: Record<string, string | undefined | null>, replace = true): void {
  const q = currentQuery();
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === null || v === "") q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(currentPath() + (s ? `?${s}` : ""), replace);
}
