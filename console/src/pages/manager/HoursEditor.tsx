// The weekly opening hours (per weekday, up to six spans, a span whose close is at or
// before its open runs past midnight) and dated exceptions (a closed day or special hours),
// edited as the API's HoursSpec. The API checks overlaps; the form checks each time.
import { useId } from "preact/hooks";
import { Badge } from "../../ui";
import { WEEKDAYS, overnight, type ExceptionSpec, type HoursSpec, type SpanSpec, type Weekday } from "./labels";

const OPEN_RE = /^(?:[01][0-9]|2[0-3]):[0-5][0-9]$/;
const CLOSE_RE = /^(?:00:0[1-9]|00:[1-5][0-9]|0[1-9]:[0-5][0-9]|1[0-9]:[0-5][0-9]|2[0-3]:[0-5][0-9]|24:00)$/;
const MAX_SPANS = 6;

/** The first problem of a span, or undefined. */
export function spanErrors(s: SpanSpec): { open?: string; close?: string } {
  const out: { open?: string; close?: string } = {};
  if (!OPEN_RE.test(s.open)) out.open = "开始时间须为 00:00–23:59，如 08:00";
  if (!CLOSE_RE.test(s.close)) out.close = "结束时间须为 00:01–24:00，如 20:00";
  else if (s.close === s.open) out.close = "结束时间不能与开始时间相同";
  return out;
}

/** Whether the whole spec passes the form's own checks (the API checks the rest). */
export function hoursValid(h: HoursSpec): boolean {
  const spans: SpanSpec[] = [];
  for (const { key } of WEEKDAYS) spans.push(...(h.weekly[key] ?? []));
  for (const e of h.exceptions ?? []) spans.push(...e.spans);
  const datesOk = (h.exceptions ?? []).every((e) => /^\d{4}-\d{2}-\d{2}$/.test(e.date));
  return datesOk && spans.every((s) => Object.keys(spanErrors(s)).length === 0);
}

export function HoursEditor({ hours, onChange }: { hours: HoursSpec; onChange: (h: HoursSpec) => void }) {
  const setDay = (key: Weekday, spans: SpanSpec[]) => onChange({ ...hours, weekly: { ...hours.weekly, [key]: spans } });
  const exceptions = hours.exceptions ?? [];
  const setExceptions = (ex: ExceptionSpec[]) => onChange({ ...hours, exceptions: ex });
  const monday = hours.weekly.mon ?? [];
  return (
    <>
      <fieldset>
        <legend>每周开放时间</legend>
        <p class="hint muted small">
          北京时间。每天可设 1 至 {MAX_SPANS} 个时段；结束时间早于或等于开始时间表示跨夜营业（到次日结束），
          00:00–24:00 表示全天开放；没有时段的日子不开放。
        </p>
        <div class="mgr-week">
          {WEEKDAYS.map(({ key, label }) => (
            <SpanList key={key} title={label} spans={hours.weekly[key] ?? []} onChange={(s) => setDay(key, s)} />
          ))}
        </div>
        <div class="row">
          <button
            type="button"
            class="secondary"
            onClick={() =>
              onChange({
                ...hours,
                weekly: { ...hours.weekly, tue: [...monday], wed: [...monday], thu: [...monday], fri: [...monday] },
              })
            }
          >
            将周一的时段应用到周二至周五
          </button>
        </div>
      </fieldset>
      <fieldset>
        <legend>特殊日期（节假日休息或调整时间）</legend>
        {exceptions.length === 0 ? (
          <p class="muted">没有特殊日期，每天按每周开放时间。</p>
        ) : (
          <ul class="mgr-exceptions">
            {exceptions.map((e, i) => (
              <ExceptionRow
                key={i}
                index={i}
                exception={e}
                duplicate={exceptions.some((o, j) => j !== i && o.date === e.date && e.date !== "")}
                onChange={(n) => setExceptions(exceptions.map((o, j) => (j === i ? n : o)))}
                onRemove={() => setExceptions(exceptions.filter((_, j) => j !== i))}
              />
            ))}
          </ul>
        )}
        <button type="button" class="secondary" onClick={() => setExceptions([...exceptions, { date: "", spans: [] }])}>
          添加特殊日期
        </button>
      </fieldset>
    </>
  );
}

function SpanList({ title, spans, onChange }: { title: string; spans: SpanSpec[]; onChange: (s: SpanSpec[]) => void }) {
  return (
    <div class="mgr-day" role="group" aria-label={title}>
      <h4>{title}</h4>
      {spans.length === 0 && <p class="muted small mgr-closed">不开放</p>}
      {spans.map((s, i) => (
        <SpanRow
          key={i}
          prefix={`${title} 第 ${i + 1} 段`}
          span={s}
          onChange={(n) => onChange(spans.map((o, j) => (j === i ? n : o)))}
          onRemove={() => onChange(spans.filter((_, j) => j !== i))}
        />
      ))}
      <div class="row">
        {spans.length < MAX_SPANS && (
          <button
            type="button"
            class="link"
            onClick={() => onChange([...spans, spans.length === 0 ? { open: "09:00", close: "18:00" } : { open: "", close: "" }])}
          >
            添加时段<span class="mgr-sr">{title}</span>
          </button>
        )}
        {spans.length === 0 && (
          <button type="button" class="link" onClick={() => onChange([{ open: "00:00", close: "24:00" }])}>
            全天开放<span class="mgr-sr">{title}</span>
          </button>
        )}
      </div>
    </div>
  );
}

function SpanRow({
  prefix,
  span,
  onChange,
  onRemove,
}: {
  prefix: string;
  span: SpanSpec;
  onChange: (s: SpanSpec) => void;
  onRemove: () => void;
}) {
  const id = useId();
  const errors = spanErrors(span);
  const shown = (v: string, e: string | undefined) => (v === "" ? undefined : e);
  const openErr = shown(span.open, errors.open) ?? (span.open === "" ? "请填写开始时间" : undefined);
  const closeErr = shown(span.close, errors.close) ?? (span.close === "" ? "请填写结束时间" : undefined);
  return (
    <div class="mgr-span">
      <div class="mgr-time">
        <label for={`${id}-o`}>
          <span class="mgr-sr">{prefix} </span>开始
        </label>
        <input
          id={`${id}-o`}
          value={span.open}
          inputMode="numeric"
          placeholder="08:00"
          maxLength={5}
          size={5}
          aria-invalid={openErr ? true : undefined}
          aria-describedby={openErr ? `${id}-oe` : undefined}
          onInput={(e) => onChange({ ...span, open: e.currentTarget.value.trim() })}
        />
      </div>
      <div class="mgr-time">
        <label for={`${id}-c`}>
          <span class="mgr-sr">{prefix} </span>结束
        </label>
        <input
          id={`${id}-c`}
          value={span.close}
          inputMode="numeric"
          placeholder="20:00"
          maxLength={5}
          size={5}
          aria-invalid={closeErr ? true : undefined}
          aria-describedby={closeErr ? `${id}-ce` : undefined}
          onInput={(e) => onChange({ ...span, close: e.currentTarget.value.trim() })}
        />
      </div>
      {!openErr && !closeErr && overnight(span) && <Badge tone="info">跨夜至次日</Badge>}
      <button type="button" class="link mgr-remove" onClick={onRemove}>
        删除<span class="mgr-sr">{prefix}</span>
      </button>
      {openErr && (
        <p class="field-error mgr-span-error" id={`${id}-oe`}>
          {openErr}
        </p>
      )}
      {closeErr && (
        <p class="field-error mgr-span-error" id={`${id}-ce`}>
          {closeErr}
        </p>
      )}
    </div>
  );
}

function ExceptionRow({
  index,
  exception,
  duplicate,
  onChange,
  onRemove,
}: {
  index: number;
  exception: ExceptionSpec;
  duplicate: boolean;
  onChange: (e: ExceptionSpec) => void;
  onRemove: () => void;
}) {
  const id = useId();
  const title = `特殊日期 ${index + 1}`;
  const special = exception.spans.length > 0;
  const dateErr = exception.date === "" ? "请选择日期" : duplicate ? "同一日期只能设置一次" : undefined;
  return (
    <li class="mgr-exception">
      <div class="row">
        <div class="field">
          <label for={`${id}-d`}>
            <span class="mgr-sr">{title} </span>日期
          </label>
          <input
            id={`${id}-d`}
            type="date"
            value={exception.date}
            aria-invalid={dateErr ? true : undefined}
            aria-describedby={dateErr ? `${id}-de` : undefined}
            onInput={(e) => onChange({ ...exception, date: e.currentTarget.value })}
          />
          {dateErr && (
            <p class="field-error" id={`${id}-de`}>
              {dateErr}
            </p>
          )}
        </div>
        <div class="field">
          <label for={`${id}-k`}>
            <span class="mgr-sr">{title} </span>安排
          </label>
          <select
            id={`${id}-k`}
            value={special ? "special" : "closed"}
            onChange={(e) =>
              onChange({ ...exception, spans: e.currentTarget.value === "special" ? [{ open: "09:00", close: "18:00" }] : [] })
            }
          >
            <option value="closed">全天休息</option>
            <option value="special">特殊开放时间</option>
          </select>
        </div>
        <button type="button" class="danger" onClick={onRemove}>
          删除<span class="mgr-sr">{title}</span>
        </button>
      </div>
      {special && (
        <SpanList
          title={`${title}${exception.date ? `（${exception.date}）` : ""}`}
          spans={exception.spans}
          onChange={(spans) => onChange({ ...exception, spans })}
        />
      )}
    </li>
  );
}
