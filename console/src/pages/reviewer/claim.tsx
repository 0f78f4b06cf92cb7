// One claim as a reviewer works on it: what was claimed and on which cover, what the rules
// found, the documents inline, the trail of everything that happened, and the decisions
// the claim's state allows.
import type { ComponentChildren } from "preact";
import { api, call, type Schemas } from "../../api/client";
import { Link } from "../../router";
import { session } from "../../session";
import { staffLabel } from "../../staff-names";
import { Badge, Loader, PageTitle, ProblemAlert, date, dateTime, money, useLoad } from "../../ui";
import { Actions } from "./actions";
import { Documents } from "./documents";
import { ACTOR_KIND, BENEFIT_KIND, DOCUMENTS, INCIDENT, STATUS, reasonText, waitingFor, type DocumentKind } from "./labels";
import { org, plan } from "./lookups";
import { queueLink } from "./queue";
import "./reviewer.css";

type ClaimView = Schemas["ClaimView"];
type EventView = Schemas["EventView"];

export function ClaimPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const claim = useLoad(() => call(() => api.GET("/api/v1/claims/{id}", { params: { path: { id } } })), [id]);
  const events = useLoad(() => call(() => api.GET("/api/v1/claims/{id}/events", { params: { path: { id } } })), [id]);
  const reload = () => {
    claim.reload();
    events.reload();
  };
  const title = claim.data ? `${claim.data.benefit_name}理赔申请` : "理赔申请";
  return (
    <>
      <p class="rv-back">
        <Link to={queueLink()}>← 返回审核队列</Link>
      </p>
      <PageTitle title={title}>
        {claim.data && <Badge tone={STATUS[claim.data.status].tone}>{claim.data.status_text}</Badge>}
      </PageTitle>
      <Loader loaded={claim}>
        {(c) => (
          <>
            <Actions claim={c} onChanged={reload} />
            <div class="grid2">
              <Facts c={c} />
              <Incident c={c} />
            </div>
            <Rules c={c} />
            <section class="panel rv-panel" aria-labelledby="rv-docs-title">
              <h2 id="rv-docs-title">申请材料（{c.documents.length} 份）</h2>
              <p class="muted small">每次查看材料都会记录在案。</p>
              <Documents docs={c.documents} reads={c.staff?.document_reads ?? []} />
            </section>
            <section class="panel rv-panel" aria-labelledby="rv-events-title">
              <h2 id="rv-events-title">处理记录</h2>
              <Loader loaded={events}>{(list) => <ClaimTrail events={list} />}</Loader>
            </section>
          </>
        )}
      </Loader>
    </>
  );
}

function Fact({ term, children }: { term: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{children ?? "—"}</dd>
    </>
  );
}

function Facts({ c }: { c: ClaimView }) {
  const union = useLoad(() => (c.staff ? org(c.staff.org_id) : Promise.resolve(null)), [c.staff?.org_id]);
  const payee = c.payee;
  return (
    <section class="panel rv-panel" aria-labelledby="rv-facts-title">
      <h2 id="rv-facts-title">申请概况</h2>
      <dl class="facts">
        <Fact term="保障计划">
          {c.plan_name}
          <span class="muted small">（{c.plan_code}，第 {c.plan_version} 版）</span>
        </Fact>
        <Fact term="保障项目">
          {c.benefit_name}
          <span class="muted small">（{BENEFIT_KIND[c.benefit_kind]}）</span>
        </Fact>
        <Fact term="保障凭证号">{c.certificate_no}</Fact>
        <Fact term="申请人所属工会">
          {union.data ? union.data.name : union.problem ? <span class="muted">（无法读取）</span> : "…"}
        </Fact>
        <Fact term="收款方式">
          {!payee
            ? "未填写"
            : payee.kind === "wechat_balance"
              ? "微信零钱"
              : [payee.bank, payee.account_masked, payee.holder ? `户名 ${payee.holder}` : null].filter(Boolean).join(" · ") ||
                "银行卡"}
        </Fact>
        <Fact term="创建时间">{dateTime(c.created_at)}</Fact>
        <Fact term="提交时间">{dateTime(c.submitted_at)}</Fact>
        {c.staff?.waiting_since && (
          <Fact term="已等待">
            {waitingFor(c.staff.waiting_since)}
            <span class="muted small">（自 {dateTime(c.staff.waiting_since)}）</span>
          </Fact>
        )}
        {c.decided_at && <Fact term="决定时间">{dateTime(c.decided_at)}</Fact>}
      </dl>
      <h3>金额</h3>
      <dl class="facts">
        <Fact term="按规则计算">
          <strong>{money(c.amount)}</strong>
          {c.days !== null && c.days !== undefined ? <span class="muted small">（{c.days} 天）</span> : null}
        </Fact>
        {c.approved_amount && <Fact term="批准金额">{money(c.approved_amount)}</Fact>}
        {c.staff?.approved_by && <Fact term="批准人">{who(c.staff.approved_by)}</Fact>}
        {c.staff?.confirmed_by && <Fact term="复核人">{who(c.staff.confirmed_by)}</Fact>}
        {c.staff && (
          <Fact term="复核线">
            {money(c.staff.confirm_threshold)}
            {c.staff.needs_confirmation && (
              <>
                {" "}
                <Badge tone="warn">按计算金额批准需财务复核</Badge>
              </>
            )}
          </Fact>
        )}
      </dl>
    </section>
  );
}

/** A staff member: "我", or their display name. */
function who(staffId: string): string {
  return staffLabel(staffId, "我");
}

function Incident({ c }: { c: ClaimView }) {
  const i = c.incident;
  return (
    <section class="panel rv-panel" aria-labelledby="rv-incident-title">
      <h2 id="rv-incident-title">出险情况</h2>
      <dl class="facts">
        <Fact term="类型">{INCIDENT[i.type]}</Fact>
        <Fact term="出险日期">{date(i.occurred_on)}</Fact>
        <Fact term="地点">{i.place}</Fact>
        <Fact term="医院">{i.hospital ?? "—"}</Fact>
        <Fact term="诊断">{i.diagnosis ?? "—"}</Fact>
        {(i.admitted_on || i.discharged_on) && (
          <Fact term="住院">
            {date(i.admitted_on)} 至 {date(i.discharged_on)}
          </Fact>
        )}
        {i.claimed_cost && <Fact term="申请报销">{money(i.claimed_cost)}</Fact>}
        {i.invoice_numbers.length > 0 && (
          <Fact term="发票号码">
            <ul class="rv-plain">
              {i.invoice_numbers.map((n) => (
                <li key={n}>
                  <code>{n}</code>
                </li>
              ))}
            </ul>
          </Fact>
        )}
      </dl>
    </section>
  );
}

/** What the rules found: the API's `missing` items, and the documents the benefit asks for. */
function Rules({ c }: { c: ClaimView }) {
  const terms = useLoad(() => plan(c.plan_code), [c.plan_code]);
  const benefit = terms.data?.benefits.find((b) => b.code === c.benefit_code);
  const have = new Map<DocumentKind, number>();
  for (const d of c.documents) have.set(d.kind, (have.get(d.kind) ?? 0) + 1);
  const screened = c.status !== "draft" && c.status !== "returned";
  return (
    <section class="panel rv-panel" aria-labelledby="rv-rules-title">
      <h2 id="rv-rules-title">规则核验</h2>
      {c.missing.length > 0 ? (
        <>
          <p>
            <Badge tone="bad">未通过 {c.missing.length} 项</Badge> 规则核验发现以下问题：
          </p>
          <ul class="rv-checks">
            {c.missing.map((m, n) => (
              <li key={`${m.code}-${m.subject ?? n}`}>
                <Badge tone="bad">未满足</Badge> {m.detail}
                <span class="muted small"> （{m.code}）</span>
              </li>
            ))}
          </ul>
        </>
      ) : screened ? (
        <p>
          <Badge tone="good">已通过</Badge> 提交时已通过全部规则核验（保障期、等待期、住院日期、材料、额度与发票查重），按规则计算应付{" "}
          <strong>{money(c.amount)}</strong>。
        </p>
      ) : (
        <p>
          <Badge tone="good">无缺项</Badge> 目前没有缺少的项目。
        </p>
      )}
      {benefit?.pays && (
        <p class="muted">
          {c.benefit_name}的给付标准：{benefit.pays}
        </p>
      )}
      <h3>应附材料</h3>
      <ProblemAlert problem={terms.problem} />
      {benefit ? (
        <>
          {terms.data && terms.data.version !== c.plan_version && (
            <p class="muted small">
              以下按保障计划现行第 {terms.data.version} 版的要求列出；这件申请按第 {c.plan_version} 版办理。
            </p>
          )}
          <ul class="rv-checks">
            {benefit.documents.map((k) => {
              const n = have.get(k) ?? 0;
              return (
                <li key={k}>
                  {n > 0 ? <Badge tone="good">已上传 {n} 份</Badge> : <Badge tone="bad">缺少</Badge>} {DOCUMENTS[k]}
                </li>
              );
            })}
          </ul>
        </>
      ) : (
        !terms.problem && !terms.loading && <p class="muted">保障计划中找不到这个保障项目的材料要求。</p>
      )}
    </section>
  );
}

/** A claim's event trail (the reviewer's claim page and finance's confirmation page). */
export function ClaimTrail({ events }: { events: EventView[] }) {
  if (events.length === 0) return <p class="empty">还没有处理记录。</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">时间</th>
            <th scope="col">操作人</th>
            <th scope="col">事项</th>
            <th scope="col">状态变化</th>
            <th scope="col">原因与说明</th>
            <th scope="col" class="num">
              金额
            </th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td class="rv-nowrap">{dateTime(e.at)}</td>
              <td>{e.actor_kind === "staff" && e.actor_id ? who(e.actor_id) : (ACTOR_KIND[e.actor_kind] ?? e.actor_kind)}</td>
              <td>{e.text}</td>
              <td>
                {e.from_status ? `${STATUS[e.from_status].text} → ` : ""}
                {STATUS[e.to_status].text}
              </td>
              <td>
                {reasonText(e.reason_code)}
                {e.reason_code && e.note ? "；" : ""}
                {e.note}
                {!e.reason_code && !e.note && <span class="muted">—</span>}
              </td>
              <td class="num">{e.amount ? money(e.amount) : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
