// Plans: the list (by status), one plan (its versions, terms, benefits and eligibility;
// publish, close, a new version; a roster upload), and the forms to create a plan and to
// edit its draft.
import { useState } from "preact/hooks";
import { api, call } from "../../../api/client";
import { Link, navigate, setQuery, useLocation } from "../../../router";
import { Dialog, Empty, Field, Loader, PageTitle, Pager, ProblemAlert, date, dateTime, notify, useAction, useLoad, usePages, value } from "../../../ui";
import {
  BENEFIT_KIND,
  DOCUMENT_KIND,
  OCCUPATION,
  PlanStatusBadge,
  hasDraft,
  pageOf,
  planStatus,
} from "./common";
import { PlanForm } from "./PlanForm";
import { RecentImports, RosterUpload } from "./Roster";

const PAGE_SIZE = 20;
const FILTERS: { value: string; label: string }[] = [
  { value: "", label: "全部" },
  { value: "published", label: "已发布" },
  { value: "draft", label: "草稿（未发布）" },
  { value: "closed", label: "已关闭" },
];

export function PlanList() {
  const { query } = useLocation();
  const status = query.get("status") ?? "";
  // The API answers every plan at once (a union has a handful); the list is paged here.
  const all = useLoad(() => call(() => api.GET("/api/v1/admin/plans")), []);
  const filtered = (all.data ?? []).filter((p) => status === "" || planStatus(p) === status);
  const pages = usePages(async (cursor) => pageOf(filtered, cursor, PAGE_SIZE), [status, all.data]);
  return (
    <>
      <PageTitle title="保障计划">
        <Link to="/admin/plans/new" class="button">
          新建计划
        </Link>
      </PageTitle>
      <div class="filters">
        <Field label="状态">
          {(p) => (
            <select {...p} value={status} onChange={(e) => setQuery({ status: value(e) })}>
              {FILTERS.map((f) => (
                <option key={f.value} value={f.value}>
                  {f.label}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Loader loaded={all}>
        {() =>
          filtered.length === 0 ? (
            <Empty>{status ? "没有这个状态的计划。" : "还没有保障计划。"}</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table>
                  <caption>共 {filtered.length} 个计划</caption>
                  <thead>
                    <tr>
                      <th scope="col">计划</th>
                      <th scope="col">发起组织</th>
                      <th scope="col">状态</th>
                      <th scope="col">版本</th>
                      <th scope="col">报名期</th>
                      <th scope="col">保障期</th>
                      <th scope="col" class="num">
                        参保人数
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {pages.items.map((p) => (
                      <tr key={p.plan.code}>
                        <td>
                          <Link to={`/admin/plans/${encodeURIComponent(p.plan.code)}`}>{p.plan.name}</Link>
                          <div class="muted small">
                            <code>{p.plan.code}</code>
                          </div>
                        </td>
                        <td>{p.plan.sponsor.name}</td>
                        <td>
                          <PlanStatusBadge status={planStatus(p)} />
                          {hasDraft(p) && planStatus(p) !== "draft" && (
                            <div class="small muted">第 {p.latest_version} 版草稿待发布</div>
                          )}
                        </td>
                        <td>
                          {p.current_version ? `第 ${p.current_version} 版` : "—"}
                          {p.latest_version !== p.current_version && <span class="muted small">（最新第 {p.latest_version} 版）</span>}
                        </td>
                        <td>
                          {date(p.plan.enrollment_opens_on)} 至 {date(p.plan.enrollment_closes_on)}
                        </td>
                        <td>
                          {date(p.plan.coverage_starts_on)} 至 {date(p.plan.coverage_ends_on)}
                        </td>
                        <td class="num">{p.enrollments.toLocaleString("zh-CN")}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager {...pages} />
            </>
          )
        }
      </Loader>
    </>
  );
}

export function NewPlan() {
  return (
    <>
      <PageTitle title="新建保障计划" />
      <p class="muted">新计划先保存为草稿，核对无误后在计划页发布；发布后的条款不能再改，只能发布新版本。</p>
      <PlanForm />
    </>
  );
}

export function EditPlan({ params }: { params: Record<string, string> }) {
  const code = params.code ?? "";
  const loaded = useLoad(() => call(() => api.GET("/api/v1/admin/plans/{code}", { params: { path: { code } } })), [code]);
  return (
    <>
      <PageTitle title="编辑草稿" />
      <Loader loaded={loaded}>
        {(p) =>
          hasDraft(p) ? (
            <>
              <p class="muted">
                {p.plan.name}（<code>{p.plan.code}</code>）第 {p.latest_version} 版草稿。发起组织为 {p.plan.sponsor.name}，不能修改。
              </p>
              <PlanForm plan={p} onCancel={() => navigate(`/admin/plans/${encodeURIComponent(code)}`)} />
            </>
          ) : (
            <p>
              这个计划没有草稿：已发布的条款不能修改。请在<Link to={`/admin/plans/${encodeURIComponent(code)}`}>计划页</Link>新建版本。
            </p>
          )
        }
      </Loader>
    </>
  );
}

type Confirm = "publish" | "close" | "version" | null;

export function PlanPage({ params }: { params: Record<string, string> }) {
  const code = params.code ?? "";
  const loaded = useLoad(() => call(() => api.GET("/api/v1/admin/plans/{code}", { params: { path: { code } } })), [code]);
  const [confirm, setConfirm] = useState<Confirm>(null);
  const act = useAction(async (what: Exclude<Confirm, null>) => {
    const path = { params: { path: { code } } };
    if (what === "publish") return call(() => api.POST("/api/v1/admin/plans/{code}/publish", path));
    if (what === "close") return call(() => api.POST("/api/v1/admin/plans/{code}/close", path));
    return call(() => api.POST("/api/v1/admin/plans/{code}/versions", path));
  });
  const run = async (what: Exclude<Confirm, null>) => {
    const done = await act.run(what);
    if (!done) return;
    setConfirm(null);
    if (what === "version") {
      notify(`已新建第 ${done.latest_version} 版草稿`);
      navigate(`/admin/plans/${encodeURIComponent(code)}/edit`);
      return;
    }
    notify(what === "publish" ? `已发布第 ${done.current_version ?? done.latest_version} 版` : "计划已关闭，不再接受新的参保");
    loaded.reload();
  };
  return (
    <Loader loaded={loaded}>
      {(p) => {
        const status = planStatus(p);
        const draft = hasDraft(p);
        const t = p.plan;
        return (
          <>
            <PageTitle title={t.name}>
              {draft && (
                <>
                  <Link to={`/admin/plans/${encodeURIComponent(code)}/edit`} class="button secondary">
                    编辑草稿
                  </Link>
                  <button type="button" onClick={() => setConfirm("publish")}>
                    发布第 {p.latest_version} 版
                  </button>
                </>
              )}
              {!draft && status === "published" && (
                <button type="button" class="secondary" onClick={() => setConfirm("version")}>
                  新建版本
                </button>
              )}
              {status === "published" && (
                <button type="button" class="danger" onClick={() => setConfirm("close")}>
                  关闭计划
                </button>
              )}
            </PageTitle>
            <p>
              <Link to="/admin/plans">← 全部计划</Link>
            </p>
            <div class="grid2">
              <section class="panel ops-section" aria-labelledby="ops-plan-facts">
                <h2 id="ops-plan-facts">概况</h2>
                <dl class="facts">
                  <dt>计划代码</dt>
                  <dd>
                    <code>{t.code}</code>
                  </dd>
                  <dt>状态</dt>
                  <dd>
                    <PlanStatusBadge status={status} />
                  </dd>
                  <dt>发起组织</dt>
                  <dd>{t.sponsor.name}</dd>
                  <dt>生效版本</dt>
                  <dd>{p.current_version ? `第 ${p.current_version} 版` : "尚未发布"}</dd>
                  <dt>参保人数</dt>
                  <dd>{p.enrollments.toLocaleString("zh-CN")}（各版本合计）</dd>
                </dl>
              </section>
              <section class="panel ops-section" aria-labelledby="ops-plan-versions">
                <h2 id="ops-plan-versions">版本</h2>
                <div class="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">版本</th>
                        <th scope="col">状态</th>
                        <th scope="col">发布时间</th>
                      </tr>
                    </thead>
                    <tbody>
                      {[...p.versions]
                        .sort((a, b) => b.version - a.version)
                        .map((v) => (
                          <tr key={v.version}>
                            <td>第 {v.version} 版</td>
                            <td>
                              <PlanStatusBadge status={v.status} />
                            </td>
                            <td>{dateTime(v.published_at)}</td>
                          </tr>
                        ))}
                    </tbody>
                  </table>
                </div>
              </section>
            </div>

            <section class="panel ops-section" aria-labelledby="ops-plan-terms">
              <h2 id="ops-plan-terms">
                第 {t.version} 版条款 <PlanStatusBadge status={t.status} />
              </h2>
              {t.description && <p>{t.description}</p>}
              <dl class="facts">
                <dt>报名期</dt>
                <dd>
                  {date(t.enrollment_opens_on)} 至 {date(t.enrollment_closes_on)}
                </dd>
                <dt>保障期</dt>
                <dd>
                  {date(t.coverage_starts_on)} 至 {date(t.coverage_ends_on)}
                </dd>
                <dt>职业</dt>
                <dd>{t.eligibility.occupations?.length ? t.eligibility.occupations.map((o) => OCCUPATION[o]).join("、") : "不限"}</dd>
                <dt>工作地区</dt>
                <dd>{t.eligibility.region_codes?.length ? t.eligibility.region_codes.join("、") : "不限"}</dd>
                <dt>年龄</dt>
                <dd>
                  {t.eligibility.min_age === undefined && t.eligibility.max_age === undefined
                    ? "不限"
                    : `${t.eligibility.min_age ?? "不限"} 至 ${t.eligibility.max_age ?? "不限"} 岁`}
                </dd>
                <dt>入会时长</dt>
                <dd>{t.eligibility.min_membership_days ? `满 ${t.eligibility.min_membership_days} 天` : "不限"}</dd>
                <dt>平台从业时长</dt>
                <dd>{t.eligibility.min_platform_tenure_months ? `满 ${t.eligibility.min_platform_tenure_months} 个月` : "不限"}</dd>
              </dl>
              <h3>保障项目</h3>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">项目</th>
                      <th scope="col">给付方式</th>
                      <th scope="col">保障内容</th>
                      <th scope="col">等待期</th>
                      <th scope="col">所需材料</th>
                    </tr>
                  </thead>
                  <tbody>
                    {t.benefits.map((b) => (
                      <tr key={b.code}>
                        <td>
                          {b.name}
                          <div class="muted small">
                            <code>{b.code}</code>
                          </div>
                        </td>
                        <td>{BENEFIT_KIND[b.kind]}</td>
                        <td>{b.pays}</td>
                        <td class="ops-nowrap">
                          疾病 {b.waiting_days.illness} 天<br />
                          意外 {b.waiting_days.accident} 天
                        </td>
                        <td>{b.documents.map((d) => DOCUMENT_KIND[d]).join("、") || "无"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>

            <section class="panel ops-section" aria-labelledby="ops-roster">
              <h2 id="ops-roster">导入平台骑手名单</h2>
              {status === "published" ? (
                <RosterUpload code={t.code} />
              ) : (
                <p class="muted">{status === "closed" ? "计划已关闭，不再接受参保（包括名单导入）。" : "计划发布后才能导入名单。"}</p>
              )}
              <RecentImports code={t.code} />
            </section>

            {confirm && (
              <Dialog
                title={confirm === "publish" ? `发布第 ${p.latest_version} 版？` : confirm === "close" ? "关闭计划？" : "新建版本？"}
                onClose={() => {
                  act.clear();
                  setConfirm(null);
                }}
              >
                <p>
                  {confirm === "publish" &&
                    "发布后，新参保的会员按这一版条款参保；被取代的版本的已参保会员保留原条款。发布后条款不能再修改。"}
                  {confirm === "close" && "关闭后不再接受新的参保（包括名单导入）；已参保会员的保障照常有效，直到保障期结束。关闭不能撤销。"}
                  {confirm === "version" && `将复制当前条款生成第 ${p.latest_version + 1} 版草稿，供修改后发布。`}
                </p>
                <ProblemAlert problem={act.problem} />
                <div class="buttons">
                  <button
                    type="button"
                    class="secondary"
                    onClick={() => {
                      act.clear();
                      setConfirm(null);
                    }}
                  >
                    取消
                  </button>
                  <button type="button" class={confirm === "close" ? "danger" : undefined} disabled={act.pending} onClick={() => void run(confirm)}>
                    {act.pending ? "正在处理…" : confirm === "publish" ? "确认发布" : confirm === "close" ? "确认关闭" : "新建版本"}
                  </button>
                </div>
              </Dialog>
            )}
          </>
        );
      }}
    </Loader>
  );
}
