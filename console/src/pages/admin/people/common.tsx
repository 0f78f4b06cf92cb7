// What the admin's people pages share: zh-CN labels for the API's codes, the org tree for
// pickers (read once per session from GET /orgs), staff names for "who did it", and small
// pieces (status badges, a reason dialog).
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../../../api/client";
import { session } from "../../../session";
import { staffLabel } from "../../../staff-names";
import { Badge, Dialog, DialogButtons, Field, ProblemAlert, toProblem, useAction, value } from "../../../ui";
import type { Problem } from "../../../api/client";
import "./people.css";

export type Application = Schemas["ApplicationView"];
export type Membership = Schemas["MembershipView"];
export type Transfer = Schemas["TransferView"];
export type Staff = Schemas["StaffView"];
export type Org = Schemas["Page_OrgView"]["items"][number];
export type Role = Schemas["Role"];
export type AssignableRole = Schemas["RoleGrant"]["role"];

// ---------------------------------------------------------------------------------------
// Labels

export const OCCUPATIONS: Record<string, string> = {
  delivery_rider: "外卖骑手",
  ride_hailing_driver: "网约车司机",
  courier: "快递员",
  truck_driver: "货车司机",
  domestic_worker: "家政服务员",
  other: "其他",
};

export const PLATFORMS: Record<string, string> = {
  meituan: "美团",
  eleme: "饿了么",
  didi: "滴滴",
  sf_intra_city: "顺丰同城",
  huolala: "货拉拉",
  manbang: "满帮",
  other: "其他",
};

export const SEXES: Record<string, string> = { male: "男", female: "女" };

export const ROLES: Record<Role, string> = {
  station_manager: "驿站管理员",
  claims_reviewer: "理赔审核员",
  finance_approver: "财务审批人",
  union_admin: "工会管理员",
};

export const ASSIGNABLE_ROLES: AssignableRole[] = ["claims_reviewer", "finance_approver", "union_admin"];

export function label(map: Record<string, string>, code: string | null | undefined): string {
  if (!code) return "—";
  return map[code] ?? code;
}

type Tone = "neutral" | "good" | "warn" | "bad" | "info";

const APPLICATION_STATUS: Record<string, [string, Tone]> = {
  pending: ["待审核", "warn"],
  approved: ["已批准", "good"],
  rejected: ["已拒绝", "bad"],
  withdrawn: ["已撤回", "neutral"],
};

const MEMBERSHIP_STATUS: Record<string, [string, Tone]> = {
  active: ["有效", "good"],
  suspended: ["已暂停", "bad"],
  withdrawn: ["已退会", "neutral"],
};

const TRANSFER_STATUS: Record<string, [string, Tone]> = {
  pending: ["待审核", "warn"],
  approved: ["已批准", "good"],
  rejected: ["已拒绝", "bad"],
  cancelled: ["已取消", "neutral"],
};

const STAFF_STATUS: Record<string, [string, Tone]> = {
  active: ["启用", "good"],
  disabled: ["已停用", "bad"],
};

function statusBadge(map: Record<string, [string, Tone]>, status: string) {
  const [text, tone] = map[status] ?? [status, "neutral" as Tone];
  return <Badge tone={tone}>{text}</Badge>;
}

export const ApplicationStatus = ({ status }: { status: string }) => statusBadge(APPLICATION_STATUS, status);
export const MembershipStatus = ({ status }: { status: string }) => statusBadge(MEMBERSHIP_STATUS, status);
export const TransferStatus = ({ status }: { status: string }) => statusBadge(TRANSFER_STATUS, status);
export const StaffStatus = ({ status }: { status: string }) => statusBadge(STAFF_STATUS, status);

export const APPLICATION_STATUS_OPTIONS: [Schemas["ApplicationStatus"], string][] = [
  ["pending", "待审核"],
  ["approved", "已批准"],
  ["rejected", "已拒绝"],
  ["withdrawn", "已撤回"],
];
export const MEMBERSHIP_STATUS_OPTIONS: [Schemas["MembershipStatus"], string][] = [
  ["active", "有效"],
  ["suspended", "已暂停"],
  ["withdrawn", "已退会"],
];
export const TRANSFER_STATUS_OPTIONS: [Schemas["TransferStatus"], string][] = [
  ["pending", "待审核"],
  ["approved", "已批准"],
  ["rejected", "已拒绝"],
  ["cancelled", "已取消"],
];

/** Narrows a query-string value to one of the options' codes (else undefined). */
export function oneOf<T extends string>(options: [T, string][], v: string | null): T | undefined {
  return options.find(([code]) => code === v)?.[0];
}

const HISTORY_KINDS: Record<string, string> = {
  application_submitted: "提交入会申请",
  application_withdrawn: "申请人撤回申请",
  approved: "批准入会",
  rejected: "拒绝入会申请",
  suspended: "暂停会籍",
  reinstated: "恢复会籍",
  transfer_requested: "申请转会",
  transfer_rejected: "转会被拒绝",
  transferred: "转会完成",
  withdrawn: "退会",
  card_verified: "会员卡核验",
  personal_data_erased: "应本人要求删除个人信息",
};

export function historyKind(kind: string): string {
  return HISTORY_KINDS[kind] ?? kind;
}

// ---------------------------------------------------------------------------------------
// The org tree (for pickers and names)

export interface OrgNode extends Org {
  depth: number;
}

let orgsPromise: Promise<OrgNode[]> | null = null;

async function loadOrgs(): Promise<OrgNode[]> {
  const all: Org[] = [];
  let cursor: string | undefined;
  // Every org, page by page (a national hierarchy is a few thousand at most).
  for (let i = 0; i < 50; i++) {
    const page = await call(() => api.GET("/api/v1/orgs", { params: { query: { limit: 200, cursor } } }));
    all.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  // Tree order: each org after its parent, siblings by name.
  const children = new Map<string, Org[]>();
  const ids = new Set(all.map((o) => o.id));
  const roots: Org[] = [];
  for (const o of all) {
    if (o.parent_id && ids.has(o.parent_id)) {
      const list = children.get(o.parent_id) ?? [];
      list.push(o);
      children.set(o.parent_id, list);
    } else roots.push(o);
  }
  const out: OrgNode[] = [];
  const walk = (list: Org[], depth: number) => {
    for (const o of [...list].sort((a, b) => a.name.localeCompare(b.name, "zh-CN"))) {
      out.push({ ...o, depth });
      walk(children.get(o.id) ?? [], depth + 1);
    }
  };
  walk(roots, 0);
  return out;
}

/** Every org in tree order, read once (a failed read is tried again next time). */
export function useOrgs(): { orgs: OrgNode[] | undefined; problem: Problem | undefined } {
  const [orgs, setOrgs] = useState<OrgNode[] | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  useEffect(() => {
    let live = true;
    if (!orgsPromise) orgsPromise = loadOrgs();
    orgsPromise.then(
      (o) => live && setOrgs(o),
      (e: unknown) => {
        orgsPromise = null;
        if (live) setProblem(toProblem(e));
      },
    );
    return () => {
      live = false;
    };
  }, []);
  return { orgs, problem };
}

/** The orgs the signed-in admin administers (its union_admin subtrees). */
export function withinMyScope(orgs: OrgNode[]): OrgNode[] {
  const scopes = (session.user()?.roles ?? []).filter((r) => r.role === "union_admin").map((r) => r.org_id);
  return orgs.filter((o) => scopes.some((s) => o.id === s || o.ancestor_ids.includes(s)));
}

const ORG_TYPES: Record<string, string> = {
  federation: "总工会",
  grassroots_union: "基层工会",
  sector_federation: "行业工会联合会",
};

/** A select of orgs, indented by depth (a full-width space per level). */
export function OrgSelect({
  id,
  orgs,
  value: selected,
  onChange,
  required,
  describedBy,
  placeholder = "请选择组织",
}: {
  id: string;
  orgs: OrgNode[];
  value: string;
  onChange: (id: string) => void;
  required?: boolean;
  describedBy?: string;
  placeholder?: string;
}) {
  const minDepth = Math.min(...orgs.map((o) => o.depth));
  return (
    <select id={id} aria-describedby={describedBy} required={required} value={selected} onChange={(e) => onChange(value(e))}>
      <option value="">{placeholder}</option>
      {orgs.map((o) => (
        <option key={o.id} value={o.id}>
          {"　".repeat(Math.max(0, o.depth - minDepth))}
          {o.name}
          {o.org_type !== "federation" ? `（${ORG_TYPES[o.org_type] ?? o.org_type}）` : ""}
        </option>
      ))}
    </select>
  );
}

// ---------------------------------------------------------------------------------------
// Staff names (history and identity reads name staff by id)

let staffPromise: Promise<Map<string, Staff>> | null = null;

async function loadStaff(): Promise<Map<string, Staff>> {
  const map = new Map<string, Staff>();
  let cursor: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page = await call(() => api.GET("/api/v1/admin/staff", { params: { query: { limit: 200, cursor } } }));
    for (const s of page.items) map.set(s.id, s);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return map;
}

// Another admin signing in (in this tab) sees only the staff of their own subtrees.
session.subscribe(() => {
  staffPromise = null;
});

/** Forget the cached staff names (after creating or renaming staff). */
export function staffChanged(): void {
  staffPromise = null;
}

/** Staff by id, as far as the admin may list them (others show by id). */
export function useStaffNames(): Map<string, Staff> {
  const [map, setMap] = useState<Map<string, Staff>>(new Map());
  useEffect(() => {
    let live = true;
    if (!staffPromise) staffPromise = loadStaff();
    staffPromise.then(
      (m) => live && setMap(m),
      () => {
        staffPromise = null; // names are a convenience: ids are shown instead
      },
    );
    return () => {
      live = false;
    };
  }, []);
  return map;
}

export function staffName(map: Map<string, Staff>, id: string | null | undefined): string {
  if (!id) return "—";
  if (id === "auto-approval") return "系统（自动审批）";
  const s = map.get(id);
  if (s) return `${s.display_name}（${s.username}）`;
  // Outside the admin's subtrees: the display name only.
  return staffLabel(id);
}

// ---------------------------------------------------------------------------------------
// A dialog that asks for a reason (or a note) and runs an action

export function ReasonDialog({
  title,
  intro,
  reasonLabel,
  hint,
  presets,
  required = true,
  minLength = 1,
  submitLabel,
  danger,
  onClose,
  onSubmit,
}: {
  title: string;
  intro?: ComponentChildren;
  reasonLabel: string;
  hint?: string;
  /** Common reasons the admin can pick from (the text stays editable). */
  presets?: string[];
  required?: boolean;
  minLength?: number;
  submitLabel: string;
  danger?: boolean;
  onClose: () => void;
  onSubmit: (reason: string) => Promise<unknown>;
}) {
  const [reason, setReason] = useState("");
  const [preset, setPreset] = useState("");
  const action = useAction(async () => {
    await onSubmit(reason.trim());
  });
  return (
    <Dialog title={title} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run();
        }}
      >
        {intro}
        {presets && presets.length > 0 && (
          <Field label="常用原因" hint="选择后可在下方修改">
            {(p) => (
              <select
                {...p}
                value={preset}
                onChange={(e) => {
                  const v = value(e);
                  setPreset(v);
                  if (v) setReason(v);
                }}
              >
                <option value="">（自行填写）</option>
                {presets.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        <Field label={reasonLabel} hint={hint}>
          {(p) => (
            <textarea
              {...p}
              rows={3}
              maxLength={200}
              minLength={minLength}
              required={required}
              value={reason}
              onInput={(e) => setReason(value(e))}
            />
          )}
        </Field>
        <ProblemAlert problem={action.problem} />
        <DialogButtons onCancel={onClose} label={submitLabel} pending={action.pending} danger={danger} />
      </form>
    </Dialog>
  );
}

/** A fact row of a `dl.facts`. */
export function Fact({ term, children }: { term: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </>
  );
}
