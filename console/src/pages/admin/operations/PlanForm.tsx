// A plan's terms as a form: a new plan (code, sponsoring org, the first draft's terms) or
// the draft of an existing plan (PATCH). Checked here with the API's own patterns first;
// the API's answer (a 400/422 problem) is shown in full and, where its code names a
// field, next to that field.
import { useState } from "preact/hooks";
import { api, call, type Problem, type Schemas } from "../../../api/client";
import { Link, navigate } from "../../../router";
import { Field, ProblemAlert, notify, useAction, useIdempotent, value } from "../../../ui";
import { BENEFIT_KIND, DOCUMENT_KIND, OCCUPATION, type AdminPlan, type BenefitKind, type DocumentKind, type Occupation } from "./common";
import { OrgPicker } from "./OrgPicker";

type PlanTerms = Schemas["PlanTerms"];
type BenefitTerms = Schemas["BenefitTerms"];
type RegionCode = Schemas["RegionCode"];

// The API's patterns (openapi.yaml: NewPlan, PlanTerms, BenefitTerms).
const CODE = /^[a-z0-9][a-z0-9-]{1,31}$/;
const BENEFIT_CODE = /^[a-z][a-z0-9_]{1,31}$/;
const NAME =
  /^[^\u0000-\u001f\u007f-\u009f]*[^\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*[^\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$/;
const DESCRIPTION = /^(?:[^\u0000-\u001f\u007f-\u009f]|\n)*$/;
const DATE = /^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/;
const AMOUNT = /^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$/;
const PERCENT = /^(100(\.0{1,2})?|[1-9]?[0-9](\.[0-9]{1,2})?)$/;
const REGION = /^[0-9]{6}$/;

const KINDS = Object.keys(BENEFIT_KIND) as BenefitKind[];
const DOCUMENTS = Object.keys(DOCUMENT_KIND) as DocumentKind[];
const OCCUPATIONS = Object.keys(OCCUPATION) as Occupation[];

interface BenefitDraft {
  key: number;
  code: string;
  name: string;
  kind: BenefitKind;
  amount: string;
  amount_per_day: string;
  max_days_per_year: string;
  percent: string;
  per_claim_cap: string;
  yearly_cap: string;
  illness: string;
  accident: string;
  documents: DocumentKind[];
}

interface Draft {
  code: string;
  name: string;
  description: string;
  enrollment_opens_on: string;
  enrollment_closes_on: string;
  coverage_starts_on: string;
  coverage_ends_on: string;
  occupations: Occupation[];
  regions: string;
  min_age: string;
  max_age: string;
  min_membership_days: string;
  min_platform_tenure_months: string;
  benefits: BenefitDraft[];
}

let nextKey = 1;

function emptyBenefit(): BenefitDraft {
  return {
    key: nextKey++,
    code: "",
    name: "",
    kind: "lump_sum",
    amount: "",
    amount_per_day: "",
    max_days_per_year: "",
    percent: "",
    per_claim_cap: "",
    yearly_cap: "",
    illness: "0",
    accident: "0",
    documents: ["id_front", "id_back"],
  };
}

function fromPlan(p: AdminPlan | undefined): Draft {
  const t = p?.plan;
  return {
    code: t?.code ?? "",
    name: t?.name ?? "",
    description: t?.description ?? "",
    enrollment_opens_on: t?.enrollment_opens_on ?? "",
    enrollment_closes_on: t?.enrollment_closes_on ?? "",
    coverage_starts_on: t?.coverage_starts_on ?? "",
    coverage_ends_on: t?.coverage_ends_on ?? "",
    occupations: t?.eligibility.occupations ?? [],
    regions: (t?.eligibility.region_codes ?? []).join("，"),
    min_age: t?.eligibility.min_age?.toString() ?? "",
    max_age: t?.eligibility.max_age?.toString() ?? "",
    min_membership_days: t?.eligibility.min_membership_days?.toString() ?? "",
    min_platform_tenure_months: t?.eligibility.min_platform_tenure_months?.toString() ?? "",
    benefits: t
      ? t.benefits.map((b) => ({
          key: nextKey++,
          code: b.code,
          name: b.name,
          kind: b.kind,
          amount: b.amount ?? "",
          amount_per_day: b.amount_per_day ?? "",
          max_days_per_year: b.max_days_per_year?.toString() ?? "",
          percent: b.percent ?? "",
          per_claim_cap: b.per_claim_cap ?? "",
          yearly_cap: b.yearly_cap ?? "",
          illness: b.waiting_days.illness.toString(),
          accident: b.waiting_days.accident.toString(),
          documents: b.documents,
        }))
      : [emptyBenefit()],
  };
}

type Errors = Record<string, string>;

function intIn(s: string, min: number, max: number): number | undefined {
  if (!/^[0-9]{1,4}$/.test(s.trim())) return undefined;
  const n = Number.parseInt(s.trim(), 10);
  return n >= min && n <= max ? n : undefined;
}

function splitRegions(s: string): string[] {
  return s
    .split(/[\s,，、;；]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** Checks the draft with the API's patterns; answers the terms, or the errors by field. */
function check(d: Draft, creating: boolean, sponsor: string | undefined): { terms?: PlanTerms; errors: Errors } {
  const e: Errors = {};
  if (creating) {
    if (!CODE.test(d.code)) e.code = "计划代码须为 2 至 32 位小写字母、数字或连字符，以字母或数字开头";
    if (!sponsor) e.sponsor = "请选择发起组织";
  }
  if (d.name.length > 40 || !NAME.test(d.name)) e.name = "名称须为 2 至 40 个字，不含换行等控制字符";
  if (d.description.length > 2000 || !DESCRIPTION.test(d.description)) e.description = "说明最多 2000 个字";
  for (const k of ["enrollment_opens_on", "enrollment_closes_on", "coverage_starts_on", "coverage_ends_on"] as const) {
    if (!DATE.test(d[k])) e[k] = "请填写日期";
  }
  if (!e.enrollment_opens_on && !e.enrollment_closes_on && d.enrollment_opens_on > d.enrollment_closes_on)
    e.enrollment_closes_on = "报名截止日不能早于报名开始日";
  if (!e.coverage_starts_on && !e.coverage_ends_on && d.coverage_starts_on > d.coverage_ends_on)
    e.coverage_ends_on = "保障结束日不能早于保障开始日";
  if (!e.enrollment_closes_on && !e.coverage_ends_on && d.enrollment_closes_on > d.coverage_ends_on)
    e.enrollment_closes_on = "报名截止日不能晚于保障结束日";
  const regions = splitRegions(d.regions);
  if (regions.length > 100 || regions.some((r) => !REGION.test(r))) e.regions = "地区代码为 6 位数字（GB/T 2260），最多 100 个";
  const eligibility: PlanTerms["eligibility"] = {};
  if (d.occupations.length > 0) eligibility.occupations = d.occupations;
  if (regions.length > 0) eligibility.region_codes = regions as RegionCode[];
  const optional = (key: "min_age" | "max_age" | "min_membership_days" | "min_platform_tenure_months", min: number, max: number, msg: string) => {
    if (d[key].trim() === "") return;
    const n = intIn(d[key], min, max);
    if (n === undefined) e[key] = msg;
    else eligibility[key] = n;
  };
  optional("min_age", 16, 100, "最低年龄须为 16 至 100 的整数");
  optional("max_age", 16, 100, "最高年龄须为 16 至 100 的整数");
  optional("min_membership_days", 1, 3650, "入会天数须为 1 至 3650 的整数");
  optional("min_platform_tenure_months", 1, 120, "平台从业月数须为 1 至 120 的整数");
  if (eligibility.min_age !== undefined && eligibility.max_age !== undefined && eligibility.min_age > eligibility.max_age)
    e.max_age = "最高年龄不能低于最低年龄";
  if (d.benefits.length < 1 || d.benefits.length > 20) e.benefits = "保障项目须为 1 至 20 项";
  const codes = new Set<string>();
  const benefits: BenefitTerms[] = d.benefits.map((b, i) => {
    const p = `b${i}.`;
    if (!BENEFIT_CODE.test(b.code)) e[`${p}code`] = "项目代码须为 2 至 32 位小写字母、数字或下划线，以字母开头";
    else if (codes.has(b.code)) e[`${p}code`] = "项目代码不能重复";
    codes.add(b.code);
    if (b.name.length > 40 || !NAME.test(b.name)) e[`${p}name`] = "项目名称须为 2 至 40 个字";
    const illness = intIn(b.illness, 0, 365);
    const accident = intIn(b.accident, 0, 365);
    if (illness === undefined) e[`${p}illness`] = "等待期为 0 至 365 天";
    if (accident === undefined) e[`${p}accident`] = "等待期为 0 至 365 天";
    const out: BenefitTerms = {
      code: b.code,
      name: b.name,
      kind: b.kind,
      waiting_days: { illness: illness ?? 0, accident: accident ?? 0 },
      documents: b.documents,
    };
    const money = (k: "amount" | "amount_per_day" | "per_claim_cap" | "yearly_cap") => {
      const v = b[k].trim();
      if (!AMOUNT.test(v) || Number(v) <= 0) e[`${p}${k}`] = "请填写大于 0 的金额（元，最多两位小数）";
      else out[k] = v;
    };
    if (b.kind === "lump_sum") money("amount");
    if (b.kind === "daily_allowance") {
      money("amount_per_day");
      const days = intIn(b.max_days_per_year, 1, 366);
      if (days === undefined) e[`${p}max_days_per_year`] = "每个保障期最多天数为 1 至 366";
      else out.max_days_per_year = days;
    }
    if (b.kind === "reimbursement") {
      const pct = b.percent.trim();
      if (!PERCENT.test(pct) || Number(pct) <= 0) e[`${p}percent`] = "报销比例为大于 0、不超过 100 的数（最多两位小数）";
      else out.percent = pct;
      money("per_claim_cap");
      money("yearly_cap");
      if (out.per_claim_cap && out.yearly_cap && Number(out.yearly_cap) < Number(out.per_claim_cap))
        e[`${p}yearly_cap`] = "每个保障期上限不能低于单次上限";
    }
    return out;
  });
  if (Object.keys(e).length > 0) return { errors: e };
  const terms: PlanTerms = {
    name: d.name,
    enrollment_opens_on: d.enrollment_opens_on,
    enrollment_closes_on: d.enrollment_closes_on,
    coverage_starts_on: d.coverage_starts_on,
    coverage_ends_on: d.coverage_ends_on,
    eligibility,
    benefits,
  };
  if (d.description !== "") terms.description = d.description;
  return { terms, errors: e };
}

/** Where the API's problem belongs in the form (its code, and for a benefit its code before "："). */
function problemField(problem: Problem, d: Draft): string | undefined {
  const c = problem.code;
  if (c === "plan.invalid_code" || c === "plan.code_taken") return "code";
  if (c === "plan.sponsor_not_found" || c === "auth.out_of_scope") return "sponsor";
  if (c === "plan.invalid_name") return "name";
  if (c === "plan.invalid_description") return "description";
  if (c === "plan.invalid_dates" || c === "plan.invalid_date") return "dates";
  if (c === "plan.invalid_region") return "regions";
  if (c === "plan.invalid_eligibility" || c === "plan.duplicate_value") return "eligibility";
  if (c.startsWith("plan.") && /benefit|amount|percent|waiting/.test(c)) {
    const head = problem.detail.split("：")[0] ?? "";
    const i = d.benefits.findIndex((b) => b.code !== "" && b.code === head);
    return i >= 0 ? `b${i}` : "benefits";
  }
  return undefined;
}

export function PlanForm({ plan, onCancel }: { plan?: AdminPlan; onCancel?: () => void }) {
  const creating = plan === undefined;
  const [d, setD] = useState<Draft>(() => fromPlan(plan));
  const [sponsor, setSponsor] = useState<string | undefined>(undefined);
  const [errors, setErrors] = useState<Errors>({});
  const idempotent = useIdempotent();
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setD((x) => ({ ...x, [k]: v }));
  const setBenefit = (i: number, patch: Partial<BenefitDraft>) =>
    setD((x) => ({ ...x, benefits: x.benefits.map((b, j) => (j === i ? { ...b, ...patch } : b)) }));

  const save = useAction(async (terms: PlanTerms) => {
    if (plan) {
      return call(() => api.PATCH("/api/v1/admin/plans/{code}", { params: { path: { code: plan.plan.code } }, body: terms }));
    }
    const body = { code: d.code, sponsor_org_id: sponsor ?? "", terms };
    return idempotent(body, (key) => call(() => api.POST("/api/v1/admin/plans", { params: { header: { "Idempotency-Key": key } }, body })));
  });
  const apiField = save.problem ? problemField(save.problem, d) : undefined;
  const err = (k: string) => errors[k] ?? (apiField === k ? save.problem?.detail : undefined);

  const submit = async (e: Event) => {
    e.preventDefault();
    const checked = check(d, creating, sponsor);
    setErrors(checked.errors);
    if (!checked.terms) {
      save.clear();
      notify("表单有需要修改的地方，请查看标红的字段");
      return;
    }
    const saved = await save.run(checked.terms);
    if (saved) {
      notify(creating ? `已创建计划“${saved.plan.name}”（草稿）` : "草稿已保存");
      navigate(`/admin/plans/${encodeURIComponent(saved.plan.code)}`);
    }
  };

  const dateField = (k: "enrollment_opens_on" | "enrollment_closes_on" | "coverage_starts_on" | "coverage_ends_on", label: string) => (
    <Field label={label} error={err(k)}>
      {(p) => <input {...p} type="date" required value={d[k]} onInput={(e) => set(k, value(e))} />}
    </Field>
  );

  return (
    <form class="ops-plan-form" noValidate onSubmit={(e) => void submit(e)}>
      <fieldset>
        <legend>基本信息</legend>
        {creating && (
          <div class="grid2">
            <Field label="计划代码" hint="用于链接和保障凭证编号，创建后不能修改；如 e-road-2027" error={err("code")}>
              {(p) => (
                <input {...p} required autoComplete="off" maxLength={32} value={d.code} onInput={(e) => set("code", value(e).trim())} />
              )}
            </Field>
            <OrgPicker label="发起组织" hint="计划覆盖该组织及其下属工会的会员" error={err("sponsor")} onChange={(id) => setSponsor(id)} disabled={save.pending} />
          </div>
        )}
        <Field label="计划名称" hint="最多 40 个字，会员在 App 中看到" error={err("name")}>
          {(p) => <input {...p} required maxLength={40} value={d.name} onInput={(e) => set("name", value(e))} />}
        </Field>
        <Field label="计划说明（可选）" hint="最多 2000 个字" error={err("description")}>
          {(p) => <textarea {...p} rows={3} maxLength={2000} value={d.description} onInput={(e) => set("description", value(e))} />}
        </Field>
      </fieldset>

      <fieldset>
        <legend>日期（含当日，北京时间）</legend>
        <p class="muted small">报名截止日不得晚于保障结束日；一个保障期最长 366 天。</p>
        {apiField === "dates" && <p class="field-error">{save.problem?.detail}</p>}
        <div class="ops-grid4">
          {dateField("enrollment_opens_on", "报名开始日")}
          {dateField("enrollment_closes_on", "报名截止日")}
          {dateField("coverage_starts_on", "保障开始日")}
          {dateField("coverage_ends_on", "保障结束日")}
        </div>
      </fieldset>

      <fieldset>
        <legend>参保条件</legend>
        <p class="muted small">留空表示不限；须为在会会员。</p>
        {apiField === "eligibility" && <p class="field-error">{save.problem?.detail}</p>}
        <fieldset class="ops-inner">
          <legend>职业（不选表示不限）</legend>
          {OCCUPATIONS.map((o) => (
            <label class="check" key={o}>
              <input
                type="checkbox"
                checked={d.occupations.includes(o)}
                onChange={(e) =>
                  set("occupations", e.currentTarget.checked ? [...d.occupations, o] : d.occupations.filter((x) => x !== o))
                }
              />
              {OCCUPATION[o]}
            </label>
          ))}
        </fieldset>
        <Field label="工作地区代码（可选）" hint="GB/T 2260 六位代码，多个用逗号分隔；如 510000 为四川全省" error={err("regions")}>
          {(p) => <input {...p} inputMode="numeric" value={d.regions} onInput={(e) => set("regions", value(e))} />}
        </Field>
        <div class="ops-grid4">
          <Field label="最低年龄（可选）" error={err("min_age")}>
            {(p) => <input {...p} type="number" min={16} max={100} value={d.min_age} onInput={(e) => set("min_age", value(e))} />}
          </Field>
          <Field label="最高年龄（可选）" error={err("max_age")}>
            {(p) => <input {...p} type="number" min={16} max={100} value={d.max_age} onInput={(e) => set("max_age", value(e))} />}
          </Field>
          <Field label="入会满（天，可选）" error={err("min_membership_days")}>
            {(p) => (
              <input {...p} type="number" min={1} max={3650} value={d.min_membership_days} onInput={(e) => set("min_membership_days", value(e))} />
            )}
          </Field>
          <Field label="平台从业满（月，可选）" error={err("min_platform_tenure_months")}>
            {(p) => (
              <input
                {...p}
                type="number"
                min={1}
                max={120}
                value={d.min_platform_tenure_months}
                onInput={(e) => set("min_platform_tenure_months", value(e))}
              />
            )}
          </Field>
        </div>
      </fieldset>

      <fieldset>
        <legend>保障项目（1 至 20 项）</legend>
        {(errors.benefits || apiField === "benefits") && <p class="field-error">{errors.benefits ?? save.problem?.detail}</p>}
        {d.benefits.map((b, i) => {
          const p = `b${i}.`;
          return (
            <fieldset class="ops-benefit" key={b.key}>
              <legend>第 {i + 1} 项{b.name ? `：${b.name}` : ""}</legend>
              {apiField === `b${i}` && <p class="field-error">{save.problem?.detail}</p>}
              <div class="ops-grid3">
                <Field label="项目代码" hint="如 hospital_daily" error={err(`${p}code`)}>
                  {(q) => <input {...q} required maxLength={32} value={b.code} onInput={(e) => setBenefit(i, { code: value(e).trim() })} />}
                </Field>
                <Field label="项目名称" error={err(`${p}name`)}>
                  {(q) => <input {...q} required maxLength={40} value={b.name} onInput={(e) => setBenefit(i, { name: value(e) })} />}
                </Field>
                <Field label="给付方式">
                  {(q) => (
                    <select {...q} value={b.kind} onChange={(e) => setBenefit(i, { kind: value(e) as BenefitKind })}>
                      {KINDS.map((k) => (
                        <option key={k} value={k}>
                          {BENEFIT_KIND[k]}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
              </div>
              <div class="ops-grid3">
                {b.kind === "lump_sum" && (
                  <Field label="给付金额（元）" error={err(`${p}amount`)}>
                    {(q) => <input {...q} inputMode="decimal" required value={b.amount} onInput={(e) => setBenefit(i, { amount: value(e) })} />}
                  </Field>
                )}
                {b.kind === "daily_allowance" && (
                  <>
                    <Field label="每天金额（元）" error={err(`${p}amount_per_day`)}>
                      {(q) => (
                        <input {...q} inputMode="decimal" required value={b.amount_per_day} onInput={(e) => setBenefit(i, { amount_per_day: value(e) })} />
                      )}
                    </Field>
                    <Field label="每个保障期最多天数" error={err(`${p}max_days_per_year`)}>
                      {(q) => (
                        <input
                          {...q}
                          type="number"
                          min={1}
                          max={366}
                          required
                          value={b.max_days_per_year}
                          onInput={(e) => setBenefit(i, { max_days_per_year: value(e) })}
                        />
                      )}
                    </Field>
                  </>
                )}
                {b.kind === "reimbursement" && (
                  <>
                    <Field label="报销比例（%）" error={err(`${p}percent`)}>
                      {(q) => <input {...q} inputMode="decimal" required value={b.percent} onInput={(e) => setBenefit(i, { percent: value(e) })} />}
                    </Field>
                    <Field label="单次上限（元）" error={err(`${p}per_claim_cap`)}>
                      {(q) => (
                        <input {...q} inputMode="decimal" required value={b.per_claim_cap} onInput={(e) => setBenefit(i, { per_claim_cap: value(e) })} />
                      )}
                    </Field>
                    <Field label="每个保障期上限（元）" error={err(`${p}yearly_cap`)}>
                      {(q) => (
                        <input {...q} inputMode="decimal" required value={b.yearly_cap} onInput={(e) => setBenefit(i, { yearly_cap: value(e) })} />
                      )}
                    </Field>
                  </>
                )}
              </div>
              <div class="ops-grid3">
                <Field label="疾病等待期（天）" error={err(`${p}illness`)}>
                  {(q) => <input {...q} type="number" min={0} max={365} required value={b.illness} onInput={(e) => setBenefit(i, { illness: value(e) })} />}
                </Field>
                <Field label="意外等待期（天）" error={err(`${p}accident`)}>
                  {(q) => (
                    <input {...q} type="number" min={0} max={365} required value={b.accident} onInput={(e) => setBenefit(i, { accident: value(e) })} />
                  )}
                </Field>
              </div>
              <fieldset class="ops-inner">
                <legend>申请理赔须提交的材料</legend>
                {DOCUMENTS.map((k) => (
                  <label class="check" key={k}>
                    <input
                      type="checkbox"
                      checked={b.documents.includes(k)}
                      onChange={(e) =>
                        setBenefit(i, {
                          documents: e.currentTarget.checked ? [...b.documents, k] : b.documents.filter((x) => x !== k),
                        })
                      }
                    />
                    {DOCUMENT_KIND[k]}
                  </label>
                ))}
              </fieldset>
              {d.benefits.length > 1 && (
                <button
                  type="button"
                  class="danger"
                  onClick={() => setD((x) => ({ ...x, benefits: x.benefits.filter((_, j) => j !== i) }))}
                >
                  删除第 {i + 1} 项
                </button>
              )}
            </fieldset>
          );
        })}
        {d.benefits.length < 20 && (
          <button type="button" class="secondary" onClick={() => setD((x) => ({ ...x, benefits: [...x.benefits, emptyBenefit()] }))}>
            添加保障项目
          </button>
        )}
      </fieldset>

      <ProblemAlert problem={save.problem} />
      <div class="row">
        <button type="submit" disabled={save.pending}>
          {save.pending ? "正在保存…" : creating ? "创建计划（草稿）" : "保存草稿"}
        </button>
        {onCancel ? (
          <button type="button" class="secondary" onClick={onCancel}>
            取消
          </button>
        ) : (
          <Link to="/admin/plans">返回计划列表</Link>
        )}
      </div>
    </form>
  );
}
