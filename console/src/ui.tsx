// The console's shared pieces: loading data with its problem, cursor pages, fields with
// labels, problems shown with the API's zh-CN detail, dialogs, notices, formatting.
// Pages build from these so every list paginates and every error reads the same way.
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiProblem, asProblem, idempotencyKey, type Problem } from "./api/client";
import { setQuery } from "./router";

// ---------------------------------------------------------------------------------------
// Loading

export interface Loaded<T> {
  data: T | undefined;
  problem: Problem | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on `reload`); keeps the last data while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
      (d) => {
        if (!live) return;
        setData(d);
        setProblem(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setProblem(toProblem(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, problem, loading, reload };
}

export function toProblem(e: unknown): Problem {
  if (e instanceof ApiProblem) return e.problem;
  return asProblem(undefined, undefined);
}

/** Runs an action (a button's POST), with its pending state and problem. */
export function useAction<A extends unknown[], T>(
  action: (...args: A) => Promise<T>,
): {
  run: (...args: A) => Promise<T | undefined>;
  pending: boolean;
  problem: Problem | undefined;
  clear: () => void;
} {
  const [pending, setPending] = useState(false);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  const run = async (...args: A) => {
    setPending(true);
    setProblem(undefined);
    try {
      return await action(...args);
    } catch (e) {
      setProblem(toProblem(e));
      return undefined;
    } finally {
      setPending(false);
    }
  };
  return { run, pending, problem, clear: () => setProblem(undefined) };
}

/**
 * `Idempotency-Key`s for a form's POST. The API keeps every answer but a 5xx for a day and
 * refuses a key reused with another body, so: the same key only to retry the same body
 * after a network failure or a 5xx (the request may have been done: it is replayed, not
 * repeated); a fresh key after any answer it kept (2xx, 4xx) or once the body changes.
 *
 *     const idempotent = useIdempotent();
 *     idempotent(body, (key) => call(() => api.POST(path, { params: { header: { "Idempotency-Key": key } }, body })));
 */
export function useIdempotent(): <T>(body: unknown, send: (key: string) => Promise<T>) => Promise<T> {
  const pending = useRef<{ body: string; key: string } | null>(null);
  return async <T,>(body: unknown, send: (key: string) => Promise<T>): Promise<T> => {
    const text = JSON.stringify(body) ?? "";
    if (!pending.current || pending.current.body !== text) pending.current = { body: text, key: idempotencyKey() };
    const { key } = pending.current;
    try {
      const answer = await send(key);
      pending.current = null;
      return answer;
    } catch (e) {
      const status = e instanceof ApiProblem ? e.problem.status : 0;
      if (status >= 400 && status < 500) pending.current = null;
      throw e;
    }
  };
}

// ---------------------------------------------------------------------------------------
// Cursor pages

export interface PageOf<T> {
  items: T[];
  next_cursor?: string | null;
}

/**
 * A list read page by page with the API's cursors: `next` and `previous` walk a stack of
 * cursors, so going back shows exactly the page seen before. `deps` (filters) restart it.
 */
export function usePages<T>(
  fetchPage: (cursor: string | undefined) => Promise<PageOf<T>>,
  deps: unknown[],
) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => setCursors([undefined]), deps);
  const cursor = cursors[cursors.length - 1];
  const loaded = useLoad(() => fetchPage(cursor), [cursor, ...deps]);
  return {
    ...loaded,
    items: loaded.data?.items ?? [],
    page: cursors.length,
    hasNext: Boolean(loaded.data?.next_cursor),
    next: () => {
      const c = loaded.data?.next_cursor;
      if (c) setCursors([...cursors, c]);
    },
    hasPrevious: cursors.length > 1,
    previous: () => setCursors(cursors.slice(0, -1)),
    restart: () => setCursors([undefined]),
  };
}

export function Pager(props: {
  page: number;
  hasNext: boolean;
  hasPrevious: boolean;
  next: () => void;
  previous: () => void;
  loading?: boolean;
}) {
  if (!props.hasNext && !props.hasPrevious) return null;
  return (
    <nav class="pager" aria-label="分页">
      <button type="button" class="secondary" disabled={!props.hasPrevious || props.loading} onClick={props.previous}>
        上一页
      </button>
      <span aria-live="polite">第 {props.page} 页</span>
      <button type="button" class="secondary" disabled={!props.hasNext || props.loading} onClick={props.next}>
        下一页
      </button>
    </nav>
  );
}

// ---------------------------------------------------------------------------------------
// Showing state

/** The API's problem: its zh-CN detail first, the code for support. */
export function ProblemAlert({ problem }: { problem: Problem | undefined }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <p>{problem.detail}</p>
      <p class="muted small">
        错误代码：<code>{problem.code}</code>
        {problem.status ? `（HTTP ${problem.status}）` : ""}
      </p>
    </div>
  );
}

/** Data, its loading state and its problem, in one place. */
export function Loader<T>({
  loaded,
  children,
}: {
  loaded: { data: T | undefined; problem: Problem | undefined; loading: boolean };
  children: (data: T) => ComponentChildren;
}) {
  if (loaded.problem && loaded.data === undefined) return <ProblemAlert problem={loaded.problem} />;
  if (loaded.data === undefined) return <p class="muted" role="status">正在加载…</p>;
  return (
    <>
      {loaded.problem && <ProblemAlert problem={loaded.problem} />}
      <div aria-busy={loaded.loading}>{children(loaded.data)}</div>
    </>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** The page's heading and the document title. */
export function PageTitle({ title, children }: { title: string; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · 工友工作台`;
  }, [title]);
  return (
    <header class="page-title">
      <h1>{title}</h1>
      {children && <div class="actions">{children}</div>}
    </header>
  );
}

// ---------------------------------------------------------------------------------------
// Notices (an aria-live region in the layout)

type NoticeListener = (text: string) => void;
const noticeListeners = new Set<NoticeListener>();

/** Tells the user something happened (announced to screen readers too). */
export function notify(text: string): void {
  for (const l of noticeListeners) l(text);
}

export function Notices() {
  const [text, setText] = useState("");
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const l = (t: string) => {
      setText(t);
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => setText(""), 6000);
    };
    noticeListeners.add(l);
    return () => void noticeListeners.delete(l);
  }, []);
  return (
    <div class={text ? "notice shown" : "notice"} role="status" aria-live="polite">
      {text}
    </div>
  );
}

// ---------------------------------------------------------------------------------------
// Forms

/** A labelled field: the control gets the id, the hint and error are described by it. */
export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: ComponentChildren;
  error?: string;
  children: (props: { id: string; "aria-describedby"?: string; "aria-invalid"?: boolean }) => ComponentChildren;
}) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children({ id, "aria-describedby": describedBy, "aria-invalid": error ? true : undefined })}
      {hint && (
        <p class="hint" id={hintId}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}

/** A list's filter kept in the query string: a labelled select whose first choice is 全部. */
export function QueryFilter({
  label,
  param,
  value: current,
  options,
}: {
  label: string;
  param: string;
  value: string;
  /** [value, zh-CN label] */
  options: readonly (readonly [string, string])[];
}) {
  return (
    <Field label={label}>
      {(p) => (
        <select {...p} value={current} onChange={(e) => setQuery({ [param]: e.currentTarget.value })}>
          <option value="">全部</option>
          {options.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** The value of an input event's target. */
export function value(e: JSX.TargetedEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>): string {
  return e.currentTarget.value;
}

// ---------------------------------------------------------------------------------------
// Dialogs

/**
 * A modal dialog (native `<dialog>`: focus moves in and stays, Esc closes). Render it when
 * open; `onClose` is called on Esc and the cancel button.
 */
export function Dialog({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

/**
 * A dialog's buttons: 取消, and the action, disabled while it is pending. Without
 * `onConfirm` the action submits the dialog's form (its checks and Enter work).
 */
export function DialogButtons({
  onCancel,
  label,
  pending,
  pendingLabel = "正在提交…",
  disabled = false,
  danger = false,
  onConfirm,
}: {
  onCancel: () => void;
  label: ComponentChildren;
  pending: boolean;
  pendingLabel?: string;
  disabled?: boolean;
  danger?: boolean;
  onConfirm?: () => void;
}) {
  return (
    <div class="buttons">
      <button type="button" class="secondary" onClick={onCancel}>
        取消
      </button>
      <button
        type={onConfirm ? "button" : "submit"}
        class={danger ? "danger" : undefined}
        disabled={pending || disabled}
        onClick={onConfirm}
      >
        {pending ? pendingLabel : label}
      </button>
    </div>
  );
}

// ---------------------------------------------------------------------------------------
// Formatting (the union works in Asia/Shanghai whatever the laptop's zone)

const TZ = "Asia/Shanghai";
const dateTimeFmt = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});
const dateFmt = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
});

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTimeFmt.format(d);
}

export function date(iso: string | null | undefined): string {
  if (!iso) return "—";
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateFmt.format(d);
}

/** A yuan amount as the API writes it ("30000.00") → "¥30,000.00". Exact: no float. */
export function money(yuan: string | null | undefined): string {
  if (yuan === null || yuan === undefined || yuan === "") return "—";
  const negative = yuan.startsWith("-");
  const [int = "0", frac = "00"] = (negative ? yuan.slice(1) : yuan).split(".");
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}¥${grouped}.${frac.padEnd(2, "0")}`;
}

/** A status badge; `tone` picks the colour, the text carries the meaning. */
export function Badge({ tone = "neutral", children }: { tone?: "neutral" | "good" | "warn" | "bad" | "info"; children: ComponentChildren }) {
  return <span class={`badge ${tone}`}>{children}</span>;
}
