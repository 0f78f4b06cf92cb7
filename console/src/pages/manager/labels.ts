// The station manager's words: the API's codes in zh-CN (README: Stations; the domain's
// label_zh), and the small conversions the station pages share.
import type { Schemas } from "../../api/client";

export type Station = Schemas["StationView"];
export type Amenity = Schemas["Amenity"];
export type StationStatus = Schemas["StationStatus"];
export type HoursSpec = Schemas["HoursSpec"];
export type SpanSpec = Schemas["SpanSpec"];
export type WeeklySpec = Schemas["WeeklySpec"];
export type ExceptionSpec = Schemas["ExceptionSpec"];
export type Weekday = keyof WeeklySpec;

/** The fixed vocabulary, in the API's order (the enum of `Amenity`). */
export const AMENITIES: { code: Amenity; label: string }[] = [
  { code: "drinking_water", label: "饮用水" },
  { code: "hot_water", label: "热水" },
  { code: "phone_charging", label: "手机充电" },
  { code: "ebike_charging", label: "电动车充电" },
  { code: "battery_swap", label: "换电" },
  { code: "microwave", label: "微波炉" },
  { code: "fridge", label: "冰箱" },
  { code: "air_conditioning", label: "空调" },
  { code: "heating", label: "暖气" },
  { code: "restroom", label: "卫生间" },
  { code: "wifi", label: "无线网络" },
  { code: "first_aid_kit", label: "急救箱" },
  { code: "medicines", label: "常用药品" },
  { code: "seating", label: "休息座椅" },
  { code: "books", label: "图书" },
  { code: "repair_tools", label: "维修工具" },
  { code: "legal_aid", label: "法律援助" },
  { code: "shower", label: "淋浴" },
  { code: "lockers", label: "储物柜" },
];

export function amenityLabel(code: string): string {
  return AMENITIES.find((a) => a.code === code)?.label ?? code;
}

export function isAmenity(code: string): code is Amenity {
  return AMENITIES.some((a) => a.code === code);
}

export const WEEKDAYS: { key: Weekday; label: string }[] = [
  { key: "mon", label: "周一" },
  { key: "tue", label: "周二" },
  { key: "wed", label: "周三" },
  { key: "thu", label: "周四" },
  { key: "fri", label: "周五" },
  { key: "sat", label: "周六" },
  { key: "sun", label: "周日" },
];

const TYPES: Record<string, string> = {
  fixed: "驿站",
  movable: "流动驿站",
  workers_home: "职工之家",
  partner_shop: "合作商户",
};

export function typeLabel(type: string): string {
  return TYPES[type] ?? type;
}

export const STATUSES: { code: StationStatus; label: string }[] = [
  { code: "open", label: "正常开放" },
  { code: "temporarily_closed", label: "暂停开放" },
  { code: "closed", label: "已关闭" },
];

export function statusLabel(status: string): string {
  return STATUSES.find((s) => s.code === status)?.label ?? status;
}

export function statusTone(status: string): "good" | "warn" | "bad" | "neutral" {
  if (status === "open") return "good";
  if (status === "temporarily_closed") return "warn";
  if (status === "closed") return "bad";
  return "neutral";
}

export const REPORT_KINDS: Record<string, string> = {
  closed_when_open: "显示营业但实际关门",
  amenity_missing: "设施缺失或损坏",
  wrong_location: "位置不准确",
  unsafe_or_dirty: "卫生或安全问题",
  other: "其他问题",
};

export function reportKindLabel(kind: string): string {
  return REPORT_KINDS[kind] ?? kind;
}

/** Spans as `08:00–20:00`; one past midnight gets 次日. */
export function spanText(s: { open: string; close: string }): string {
  return `${s.open}–${overnight(s) ? "次日" : ""}${s.close}`;
}

/** `close` at or before `open` runs past midnight (`00:00`–`24:00` is all day). */
export function overnight(s: { open: string; close: string }): boolean {
  return s.close !== "24:00" && s.close <= s.open;
}

export function spansText(spans: { open: string; close: string }[]): string {
  return spans.length === 0 ? "休息" : spans.map(spanText).join("、");
}

/** The station's hours as the API gives them (`hours` is typed as a plain object). */
export function hoursOf(station: Station): HoursSpec {
  const raw: unknown = station.hours;
  const weekly: WeeklySpec = {};
  const exceptions: ExceptionSpec[] = [];
  if (raw && typeof raw === "object") {
    const r = raw as { weekly?: unknown; exceptions?: unknown };
    if (r.weekly && typeof r.weekly === "object") {
      const w = r.weekly as Record<string, unknown>;
      for (const { key } of WEEKDAYS) weekly[key] = spansOf(w[key]);
    }
    if (Array.isArray(r.exceptions)) {
      for (const e of r.exceptions as unknown[]) {
        if (e && typeof e === "object" && typeof (e as { date?: unknown }).date === "string") {
          exceptions.push({ date: (e as { date: string }).date, spans: spansOf((e as { spans?: unknown }).spans) });
        }
      }
    }
  }
  return { weekly, exceptions };
}

function spansOf(v: unknown): SpanSpec[] {
  if (!Array.isArray(v)) return [];
  const out: SpanSpec[] = [];
  for (const s of v as unknown[]) {
    if (s && typeof s === "object") {
      const { open, close } = s as { open?: unknown; close?: unknown };
      if (typeof open === "string" && typeof close === "string") out.push({ open, close });
    }
  }
  return out;
}

/** The If-Match of a version (the API's ETag is `"v7"`). */
export function ifMatch(station: Station): string {
  return `"v${station.version}"`;
}

/** Today in Asia/Shanghai as YYYY-MM-DD. */
export function shanghaiToday(offsetDays = 0): string {
  const d = new Date(Date.now() + offsetDays * 86_400_000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
}

/** An RFC 3339 instant as the value of a datetime-local input, in Beijing time. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(d);
  const p = (t: string) => parts.find((x) => x.type === t)?.value ?? "00";
  return `${p("year")}-${p("month")}-${p("day")}T${p("hour")}:${p("minute")}`;
}

/** A datetime-local value read as Beijing time → RFC 3339 with +08:00. */
export function fromLocalInput(v: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v)) return null;
  return `${v.slice(0, 16)}:00+08:00`;
}
