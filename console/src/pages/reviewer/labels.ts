// The zh-CN words of the review pages: statuses, reasons and documents as the API names
// them (the API's own zh-CN texts where it gives them: `status_text`, `text`, `detail`).
import type { Schemas } from "../../api/client";

export type ClaimStatus = Schemas["ClaimStatus"];
export type ReturnReason = Schemas["ReturnReason"];
export type RejectReason = Schemas["RejectReason"];
export type ReviewNoteReason = Schemas["ReviewNoteReason"];
export type DocumentKind = Schemas["DocumentKind"];
export type Tone = "neutral" | "good" | "warn" | "bad" | "info";

/** As the API's `status_text` says them (the queue's items carry no text). */
export const STATUS: Record<ClaimStatus, { text: string; tone: Tone }> = {
  draft: { text: "草稿", tone: "neutral" },
  submitted: { text: "已提交", tone: "info" },
  under_review: { text: "审核中", tone: "warn" },
  returned: { text: "已退回补充材料", tone: "neutral" },
  awaiting_confirmation: { text: "待复核", tone: "warn" },
  approved: { text: "已通过", tone: "good" },
  rejected: { text: "未通过", tone: "bad" },
  withdrawn: { text: "已撤回", tone: "neutral" },
  paid: { text: "已支付", tone: "good" },
  payout_failed: { text: "支付失败", tone: "bad" },
};

/** The statuses the queue holds (its `status` filter). */
export const QUEUE_STATUSES = ["submitted", "under_review", "awaiting_confirmation"] as const;

export const RETURN_REASONS: Record<ReturnReason, string> = {
  documents_missing: "材料不全",
  document_unreadable: "材料照片看不清",
  information_incorrect: "填写的信息有误",
  invoice_unclear: "发票信息不清楚",
  payee_invalid: "收款信息有误",
  other: "其他原因",
};

export const REJECT_REASONS: Record<RejectReason, string> = {
  not_covered: "出险时不在保障期内",
  waiting_period: "出险时仍在等待期内",
  incident_not_covered: "这次出险不属于保障范围",
  duplicate_claim: "与已有的理赔申请重复",
  documents_not_genuine: "材料经核实不真实",
  limit_exhausted: "本保障期的额度已用完",
  other: "其他原因",
};

export const REVIEW_NOTE_REASONS: Record<ReviewNoteReason, string> = {
  cost_partly_ineligible: "部分费用不在报销范围内",
  days_adjusted: "核减了津贴天数",
  limit_adjusted: "按限额调整",
  other: "其他原因",
};

export const DOCUMENTS: Record<DocumentKind, string> = {
  id_front: "身份证人像面",
  id_back: "身份证国徽面",
  medical_record_front_page: "病案首页",
  discharge_summary: "出院小结",
  invoice: "医疗费用发票",
  accident_proof: "意外事故证明",
  other: "其他材料",
};

export const INCIDENT: Record<Schemas["IncidentType"], string> = {
  illness: "疾病",
  accident: "意外",
};

export const BENEFIT_KIND: Record<Schemas["BenefitKind"], string> = {
  daily_allowance: "按日津贴",
  lump_sum: "一次性给付",
  reimbursement: "费用报销",
};

export const ACTOR_KIND: Record<string, string> = {
  worker: "申请人",
  staff: "工作人员",
  system: "系统",
};

/** Any reason code of the trail (`return` events join several with commas). */
export function reasonText(code: string | null | undefined): string {
  if (!code) return "";
  const all: Record<string, string> = { ...REVIEW_NOTE_REASONS, ...REJECT_REASONS, ...RETURN_REASONS };
  return code
    .split(",")
    .map((c) => all[c.trim()] ?? c)
    .join("、");
}

export function statusOf(s: ClaimStatus): { text: string; tone: Tone } {
  return STATUS[s];
}

/** "¥1,000.00" → fen, for comparing the amounts the API writes ("1000.00"); null if not one. */
export function toFen(yuan: string | null | undefined): number | null {
  if (!yuan) return null;
  const m = /^(0|[1-9][0-9]{0,9})(?:\.([0-9]{1,2}))?$/.exec(yuan.trim());
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
}

/** How long since `iso`, in days and hours ("2 天 3 小时"). */
export function waitingFor(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "—";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return "—";
  const hours = Math.max(0, Math.floor((now - t) / 3_600_000));
  if (hours < 1) return "不到 1 小时";
  const d = Math.floor(hours / 24);
  const h = hours % 24;
  if (d === 0) return `${h} 小时`;
  return h === 0 ? `${d} 天` : `${d} 天 ${h} 小时`;
}

/** Waiting at least this many hours: worth flagging. */
export function waitingHours(iso: string | null | undefined, now: number = Date.now()): number {
  if (!iso) return 0;
  const t = new Date(iso).getTime();
  return Number.isNaN(t) ? 0 : Math.floor((now - t) / 3_600_000);
}

export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
