// Shared pieces of the admin's operations pages: zh-CN labels for the API's enums, status
// badges, a plan's overall status, uploads with the bearer token, the error report's CSV
// parsed for display, and a cursor pager over a list the API answers whole.
import type { ComponentChildren } from "preact";
import type { Schemas } from "../../../api/client";
import { Badge, type PageOf } from "../../../ui";

export type AdminPlan = Schemas["AdminPlanView"];
export type PlanStatus = Schemas["PlanStatus"];
export type BenefitKind = Schemas["BenefitKind"];
export type DocumentKind = Schemas["DocumentKind"];
export type Occupation = Schemas["Occupation"];
export type ImportView = Schemas["ImportView"];
export type CampaignView = Schemas["CampaignView"];
export type JobView = Schemas["JobView"];
export type JobStatus = Schemas["JobStatus"];

export const PLAN_STATUS: Record<PlanStatus, string> = {
  draft: "草稿",
  published: "已发布",
  superseded: "已被新版本取代",
  closed: "已关闭",
};

const PLAN_TONE: Record<PlanStatus, "neutral" | "good" | "warn" | "bad" | "info"> = {
  draft: "warn",
  published: "good",
  superseded: "neutral",
  closed: "neutral",
};

export function PlanStatusBadge({ status }: { status: PlanStatus }) {
  return <Badge tone={PLAN_TONE[status]}>{PLAN_STATUS[status]}</Badge>;
}

/**
 * A plan's status as a whole: closed once closed; published while a version is open to
 * enrollment (even with a newer draft being written); a draft before its first publication.
 */
export function planStatus(p: AdminPlan): PlanStatus {
  if (p.versions.some((v) => v.status === "closed")) return "closed";
  if (p.versions.some((v) => v.status === "published")) return "published";
  return "draft";
}

/** The draft being written, if any (always the latest version). */
export function hasDraft(p: AdminPlan): boolean {
  return p.versions.some((v) => v.version === p.latest_version && v.status === "draft");
}

export const BENEFIT_KIND: Record<BenefitKind, string> = {
  lump_sum: "一次性给付",
  daily_allowance: "按天给付",
  reimbursement: "按比例报销",
};

export const DOCUMENT_KIND: Record<DocumentKind, string> = {
  id_front: "身份证正面",
  id_back: "身份证反面",
  medical_record_front_page: "病案首页",
  discharge_summary: "出院小结",
  invoice: "医疗费用发票",
  accident_proof: "事故证明",
  other: "其他材料",
};

export const OCCUPATION: Record<Occupation, string> = {
  delivery_rider: "外卖骑手",
  ride_hailing_driver: "网约车司机",
  courier: "快递员",
  truck_driver: "货车司机",
  domestic_worker: "家政服务员",
  other: "其他",
};

export const IMPORT_STATUS: Record<string, string> = {
  queued: "排队中",
  running: "处理中",
  done: "已完成",
  failed: "已失败",
};

export function ImportStatusBadge({ status }: { status: string }) {
  const tone = status === "done" ? "good" : status === "failed" ? "bad" : "info";
  return <Badge tone={tone}>{IMPORT_STATUS[status] ?? status}</Badge>;
}

export const JOB_STATUS: Record<JobStatus, string> = {
  queued: "排队中",
  running: "运行中",
  failed: "失败（将重试）",
  dead: "已放弃",
  done: "已完成",
};

export function JobStatusBadge({ status }: { status: string }) {
  const tone = status === "dead" ? "bad" : status === "failed" ? "warn" : status === "done" ? "good" : "info";
  return <Badge tone={tone}>{status in JOB_STATUS ? JOB_STATUS[status as JobStatus] : status}</Badge>;
}

export const CAMPAIGN_STATUS: Record<string, string> = {
  fanning_out: "正在写入收件箱",
  sent: "已全部写入",
};

export function CampaignStatusBadge({ status }: { status: string }) {
  return <Badge tone={status === "sent" ? "good" : "info"}>{CAMPAIGN_STATUS[status] ?? status}</Badge>;
}

/** Delivery statuses as the API names them. */
export const DELIVERY_STATUS: Record<string, string> = {
  pending: "待发送",
  sending: "发送中",
  sent: "已发送",
  skipped: "已跳过",
  failed: "失败（将重试）",
  dead: "已放弃",
  retrying: "重试中",
  batches_waiting: "待处理批次",
};

/** What a rejected roster row's code is about: the column at fault, or the rule unmet. */
export const ROW_CODE_FIELD: Record<string, string> = {
  wrong_column_count: "整行",
  invalid_encoding: "整行",
  name_missing: "姓名",
  name_invalid: "姓名",
  id_number_missing: "身份证号",
  id_number_scientific: "身份证号",
  id_number_check_char: "身份证号",
  id_number_invalid: "身份证号",
  phone_invalid: "手机号",
  platform_worker_id_invalid: "平台工号",
  date_invalid: "入职日期",
  not_member: "会员身份",
  outside_reach: "所属工会",
};

export function rowCodeField(code: string): string {
  return ROW_CODE_FIELD[code] ?? "参保条件";
}

// ---------------------------------------------------------------------------------------
// CSV (the error report) read for display

/** RFC 4180 records (quotes with "" inside; CRLF, LF or CR line ends); a leading BOM dropped. */
export function parseCsv(text: string): string[][] {
  const s = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" || c === "\n") {
      if (c === "\r" && s[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => r.some((c) => c !== ""));
}

/**
 * A page of a list held whole (the API answers it in one piece): the cursor is the offset,
 * so `usePages` and `<Pager>` work on it as on the API's own cursors.
 */
export function pageOf<T>(all: T[], cursor: string | undefined, size: number): PageOf<T> {
  const from = Math.max(0, Number.parseInt(cursor ?? "0", 10) || 0);
  const to = from + size;
  return { items: all.slice(from, to), next_cursor: to < all.length ? String(to) : null };
}

/** A labelled count in a row of counts. */
export function Stat({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="ops-stat">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

