// The finance section's labels and small pieces: statuses in zh-CN with a badge tone, who
// did something (the caller as 您), ids shortened for tables, org names looked up once.
import { api, call, type Schemas } from "../../api/client";
import { staffLabel } from "../../staff-names";
import { Badge, useLoad } from "../../ui";

export type PayoutView = Schemas["PayoutView"];
export type PayoutStatus = Schemas["PayoutStatus"];
export type BatchView = Schemas["BatchView"];
export type RunView = Schemas["RunView"];
export type ItemView = Schemas["ItemView"];
export type Outcome = Schemas["Outcome"];
export type Blocker = Schemas["Blocker"];

type Tone = "neutral" | "good" | "warn" | "bad" | "info";

export const PAYOUT_STATUS: Record<PayoutStatus, [string, Tone]> = {
  pending: ["待支付", "warn"],
  sending: ["支付中", "info"],
  awaiting_confirmation: ["待收款人确认", "info"],
  paid: ["已支付", "good"],
  failed: ["支付失败", "bad"],
  cancelled: ["已撤销", "neutral"],
};

export function PayoutBadge({ status, text }: { status: PayoutStatus; text?: string }) {
  const [label, tone] = PAYOUT_STATUS[status] ?? [status, "neutral"];
  return <Badge tone={tone}>{text ?? label}</Badge>;
}

export const CHANNEL: Record<string, string> = { wechat: "微信零钱", bank: "银行转账" };

export function channelText(c: string | null | undefined): string {
  if (!c) return "—";
  return CHANNEL[c] ?? c;
}

const ACCOUNT: Record<string, string> = { wechat: "微信支付", bank: "银行" };

/** A statement's account: the WeChat Pay operating account or the union's bank account. */
export function accountText(c: string): string {
  return ACCOUNT[c] ?? c;
}

export const BLOCKER: Record<Blocker, string> = {
  no_wechat_openid: "收款人尚未通过小程序登录，无法转账到微信零钱",
  above_wechat_limit: "超过微信单笔转账限额，须改用银行账户",
  below_wechat_minimum: "低于微信转账最低额 0.10 元，须改用银行账户",
  wechat_pay_unavailable: "本服务未配置微信支付",
  payee_change_pending: "收款人变更待另一位财务审批人确认",
};

export function BatchBadge({ batch }: { batch: Pick<BatchView, "status" | "settled"> }) {
  if (batch.status === "draft") return <Badge tone="warn">待审批</Badge>;
  if (batch.settled) return <Badge tone="good">已结清</Badge>;
  if (batch.status === "approved") return <Badge tone="info">已审批，支付中</Badge>;
  return <Badge>{batch.status}</Badge>;
}

export const RUN_STATUS: Record<Schemas["RunStatus"], [string, Tone]> = {
  waiting: ["等待账单", "neutral"],
  overdue: ["账单逾期", "bad"],
  queued: ["排队中", "info"],
  running: ["对账中", "info"],
  done: ["已完成", "good"],
  failed: ["失败", "bad"],
};

export function RunBadge({ status }: { status: Schemas["RunStatus"] }) {
  const [label, tone] = RUN_STATUS[status] ?? [status, "neutral"];
  return <Badge tone={tone}>{label}</Badge>;
}

export const OUTCOME: Record<Outcome, string> = {
  matched: "已匹配",
  amount_mismatch: "金额不符",
  status_mismatch: "状态不符",
  missing_from_statement: "账单缺失",
  unexpected_in_statement: "账单多出",
  duplicate: "重复入账",
};

export const HELD: Record<Schemas["Held"], string> = { paid: "已支付", failed: "失败", open: "处理中" };

export const EVENT_ACTION: Record<string, string> = {
  open: "生成支付",
  batch: "加入批次",
  batch_approved: "批次审批通过",
  send: "发起转账",
  blocked: "无法发送",
  accepted: "渠道处理中",
  pending: "回到待支付",
  awaiting_confirmation: "等待收款人确认",
  paid: "支付成功",
  failed: "支付失败",
  cancel: "申请撤销",
  cancelled: "已撤销",
  retry: "重新支付",
  switch_payee: "更换收款人",
  request_payee: "申请变更收款账户",
  approve_payee: "同意变更收款账户",
  refuse_payee: "拒绝变更收款账户",
  export: "导出银行文件",
  export_refused: "未能写入银行文件",
};

export const ACTOR_KIND: Record<string, string> = { staff: "工作人员", system: "系统", provider: "支付渠道", worker: "会员" };

/** A staff id as a person: 您 for the caller, else a short id (the API gives no names here). */
export const who = (id: string | null | undefined): string => staffLabel(id);

/** The last 8 characters of an id (UUIDv7: the start is the time, the end tells them apart). */
export function shortId(id: string | null | undefined): string {
  if (!id) return "—";
  return id.replace(/-/g, "").slice(-8);
}

const orgNames = new Map<string, Promise<string>>();

/** An org's name, read once per id. */
export function orgName(id: string): Promise<string> {
  let p = orgNames.get(id);
  if (!p) {
    p = call(() => api.GET("/api/v1/orgs/{id}", { params: { path: { id } } })).then(
      (o) => o.name,
      () => {
        orgNames.delete(id);
        return shortId(id);
      },
    );
    orgNames.set(id, p);
  }
  return p;
}

export function OrgName({ id }: { id: string }) {
  const loaded = useLoad(() => orgName(id), [id]);
  return <>{loaded.data ?? shortId(id)}</>;
}

/** Today in Asia/Shanghai as YYYY-MM-DD. */
export function todayInChina(offsetDays = 0): string {
  const d = new Date(Date.now() + offsetDays * 86_400_000);
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
  return parts;
}
