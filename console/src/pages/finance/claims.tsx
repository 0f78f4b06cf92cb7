// Large approvals awaiting a finance approver's confirmation: the queue, one claim's facts,
// documents and trail, and the confirmation (or a rejection with its reason) in a dialog.
import { useState } from "preact/hooks";
import { api, call, fetchBlob, saveBlob, type Schemas } from "../../api/client";
import { Link, navigate } from "../../router";
import { ClaimTrail } from "../reviewer/claim";
import { session } from "../../session";
import {
  Badge,
  Dialog,
  DialogButtons,
  Empty,
  Field,
  Loader,
  Pager,
  PageTitle,
  ProblemAlert,
  date,
  dateTime,
  money,
  notify,
  useAction,
  useLoad,
  usePages,
  value,
} from "../../ui";
import { OrgName, shortId, who } from "./common";

type ClaimView = Schemas["ClaimView"];
type RejectReason = Schemas["RejectReason"];

const INCIDENT: Record<Schemas["IncidentType"], string> = { illness: "疾病", accident: "意外" };

const DOCUMENT: Record<Schemas["DocumentKind"], string> = {
  id_front: "身份证人像面",
  id_back: "身份证国徽面",
  medical_record_front_page: "病案首页",
  discharge_summary: "出院小结",
  invoice: "医疗发票",
  accident_proof: "事故证明",
  other: "其他材料",
};

const REJECT: Record<RejectReason, string> = {
  not_covered: "不在保障范围",
  waiting_period: "处于等待期",
  incident_not_covered: "事故不属保障责任",
  duplicate_claim: "重复申请",
  documents_not_genuine: "材料不真实",
  limit_exhausted: "保障额度已用完",
  other: "其他原因",
};

function claimTone(status: Schemas["ClaimStatus"]): "neutral" | "good" | "warn" | "bad" | "info" {
  switch (status) {
    case "awaiting_confirmation":
      return "warn";
    case "approved":
    case "paid":
      return "good";
    case "rejected":
    case "payout_failed":
      return "bad";
    default:
      return "info";
  }
}

/** The benefit's name of a claim in the queue (the queue item has only its code). */
function BenefitName({ id, fallback }: { id: string; fallback: string }) {
  const loaded = useLoad(() => call(() => api.GET("/api/v1/claims/{id}", { params: { path: { id } } })), [id]);
  return <>{loaded.data?.benefit_name ?? fallback}</>;
}

export function Confirmations() {
  const pages = usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/review/claims", {
          params: { query: { status: "awaiting_confirmation", cursor, limit: 20 } },
        }),
      ),
    [],
  );
  return (
    <>
      <PageTitle title="待确认理赔" />
      <p class="muted">
        审核员批准的大额理赔须由一位财务审批人（不是批准人本人）确认后才会生成支付。确认前请核对事实与金额。
      </p>
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>没有等待确认的理赔。</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption>等待财务确认的理赔，最早的在前</caption>
                <thead>
                  <tr>
                    <th scope="col">理赔</th>
                    <th scope="col">保障项目</th>
                    <th scope="col">工会</th>
                    <th scope="col">事故</th>
                    <th scope="col" class="num">批准金额</th>
                    <th scope="col">等待自</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((c) => (
                    <tr key={c.id}>
                      <td>
                        <Link to={`/finance/claims/${c.id}`} aria-label={`查看理赔 ${shortId(c.id)}（${money(c.amount)}）`}>
                          {shortId(c.id)}
                        </Link>
                      </td>
                      <td>
                        <BenefitName id={c.id} fallback={c.benefit_code} />
                      </td>
                      <td>
                        <OrgName id={c.org_id} />
                      </td>
                      <td>
                        {INCIDENT[c.incident_type]} · {date(c.occurred_on)}
                      </td>
                      <td class="num">{money(c.amount)}</td>
                      <td>{dateTime(c.waiting_since)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loader>
      <Pager {...pages} />
    </>
  );
}

export function ClaimPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const claim = useLoad(() => call(() => api.GET("/api/v1/claims/{id}", { params: { path: { id } } })), [id]);
  const events = useLoad(() => call(() => api.GET("/api/v1/claims/{id}/events", { params: { path: { id } } })), [id]);
  const [dialog, setDialog] = useState<"confirm" | "reject" | null>(null);
  const reload = () => {
    claim.reload();
    events.reload();
  };
  return (
    <>
      <PageTitle title={`理赔 ${shortId(id)}`}>
        <Link to="/finance/claims" class="button secondary">
          返回待确认理赔
        </Link>
      </PageTitle>
      <Loader loaded={claim}>
        {(c) => (
          <>
            <ClaimFacts claim={c} />
            {c.status === "awaiting_confirmation" && (
              <section class="panel fin-panel" aria-labelledby="fin-claim-decide">
                <h2 id="fin-claim-decide">确认</h2>
                {c.staff?.approved_by === session.user()?.id ? (
                  <p>您批准了这笔理赔，须由另一位财务审批人确认。</p>
                ) : (
                  <p>
                    审核员已批准 {money(c.approved_amount)}，超过确认门槛 {money(c.staff?.confirm_threshold)}。确认后即生成待支付款项。
                  </p>
                )}
                <div class="row">
                  <button type="button" onClick={() => setDialog("confirm")}>
                    确认理赔
                  </button>
                  <button type="button" class="danger" onClick={() => setDialog("reject")}>
                    驳回
                  </button>
                </div>
              </section>
            )}
            {(c.status === "approved" || c.status === "paid" || c.status === "payout_failed") && (
              <p>
                <Link to={`/finance/payouts?claim_id=${c.id}`}>查看这笔理赔的支付</Link>
              </p>
            )}
            {dialog === "confirm" && (
              <ConfirmDialog
                claim={c}
                onClose={() => setDialog(null)}
                onDone={() => {
                  setDialog(null);
                  reload();
                }}
              />
            )}
            {dialog === "reject" && (
              <RejectDialog
                claim={c}
                onClose={() => setDialog(null)}
                onDone={() => {
                  setDialog(null);
                  reload();
                }}
              />
            )}
          </>
        )}
      </Loader>
      <section aria-labelledby="fin-claim-trail">
        <h2 id="fin-claim-trail">处理记录</h2>
        <Loader loaded={events}>{(list) => <ClaimTrail events={list} />}</Loader>
      </section>
    </>
  );
}

function ClaimFacts({ claim: c }: { claim: ClaimView }) {
  const download = useAction(async (d: Schemas["DocumentView"]) => {
    const blob = await fetchBlob(d.url);
    const ext = d.content_type === "application/pdf" ? "pdf" : d.content_type === "image/png" ? "png" : "jpg";
    saveBlob(blob, `${DOCUMENT[d.kind] ?? d.kind}-${shortId(c.id)}.${ext}`);
  });
  const i = c.incident;
  return (
    <div class="grid2">
      <section class="panel fin-panel" aria-labelledby="fin-claim-facts">
        <h2 id="fin-claim-facts">理赔</h2>
        <dl class="facts">
          <dt>状态</dt>
          <dd>
            <Badge tone={claimTone(c.status)}>{c.status_text}</Badge>
          </dd>
          <dt>保障计划</dt>
          <dd>
            {c.plan_name}（第 {c.plan_version} 版）
          </dd>
          <dt>保障项目</dt>
          <dd>{c.benefit_name}</dd>
          <dt>保障凭证号</dt>
          <dd>{c.certificate_no}</dd>
          {c.staff && (
            <>
              <dt>所属工会</dt>
              <dd>
                <OrgName id={c.staff.org_id} />
              </dd>
            </>
          )}
          <dt>规则计算金额</dt>
          <dd>{money(c.amount)}</dd>
          <dt>批准金额</dt>
          <dd>
            <strong>{money(c.approved_amount)}</strong>
          </dd>
          {c.days !== null && c.days !== undefined && (
            <>
              <dt>补贴天数</dt>
              <dd>{c.days} 天</dd>
            </>
          )}
          {c.staff && (
            <>
              <dt>确认门槛</dt>
              <dd>{money(c.staff.confirm_threshold)}</dd>
              <dt>批准人</dt>
              <dd>{who(c.staff.approved_by)}</dd>
              <dt>确认人</dt>
              <dd>{who(c.staff.confirmed_by)}</dd>
            </>
          )}
          <dt>提交时间</dt>
          <dd>{dateTime(c.submitted_at)}</dd>
          <dt>收款方式</dt>
          <dd>
            {!c.payee
              ? "—"
              : c.payee.kind === "wechat_balance"
                ? "微信零钱"
                : `银行账户 ${c.payee.bank ?? ""} ${c.payee.account_masked ?? ""} ${c.payee.holder ?? ""}`}
          </dd>
        </dl>
      </section>
      <section class="panel fin-panel" aria-labelledby="fin-claim-incident">
        <h2 id="fin-claim-incident">事故</h2>
        <dl class="facts">
          <dt>类型</dt>
          <dd>{INCIDENT[i.type]}</dd>
          <dt>发生日期</dt>
          <dd>{date(i.occurred_on)}</dd>
          <dt>地点</dt>
          <dd>{i.place}</dd>
          <dt>医院</dt>
          <dd>{i.hospital ?? "—"}</dd>
          <dt>诊断</dt>
          <dd>{i.diagnosis ?? "—"}</dd>
          {(i.admitted_on || i.discharged_on) && (
            <>
              <dt>住院</dt>
              <dd>
                {date(i.admitted_on)} 至 {date(i.discharged_on)}
              </dd>
            </>
          )}
          {i.claimed_cost && (
            <>
              <dt>申报费用</dt>
              <dd>{money(i.claimed_cost)}</dd>
            </>
          )}
          {i.invoice_numbers.length > 0 && (
            <>
              <dt>发票号</dt>
              <dd>{i.invoice_numbers.join("、")}</dd>
            </>
          )}
        </dl>
        <h3>材料</h3>
        {c.documents.length === 0 ? (
          <p class="muted">没有材料。</p>
        ) : (
          <ul class="fin-docs">
            {c.documents.map((d) => (
              <li key={d.id}>
                <button type="button" class="link" disabled={download.pending} onClick={() => void download.run(d)}>
                  下载{DOCUMENT[d.kind] ?? d.kind}
                </button>{" "}
                <span class="muted small">
                  {Math.max(1, Math.round(d.bytes / 1024))} KB · {dateTime(d.uploaded_at)}
                </span>
              </li>
            ))}
          </ul>
        )}
        <p class="muted small">每次查看材料都会被记录。</p>
        <ProblemAlert problem={download.problem} />
      </section>
    </div>
  );
}

function ConfirmDialog({ claim, onClose, onDone }: { claim: ClaimView; onClose: () => void; onDone: () => void }) {
  const [note, setNote] = useState("");
  const confirm = useAction(() =>
    call(() =>
      api.POST("/api/v1/review/claims/{id}/confirm", {
        params: { path: { id: claim.id } },
        body: note.trim() ? { note: note.trim() } : {},
      }),
    ),
  );
  return (
    <Dialog title="确认理赔" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const done = await confirm.run();
          if (done) {
            notify(`已确认理赔 ${shortId(claim.id)}，已生成 ${money(done.approved_amount)} 的待支付款项`);
            onDone();
          }
        }}
      >
        <p>
          确认 {claim.benefit_name}，批准金额 <strong>{money(claim.approved_amount)}</strong>。确认后生成待支付款项，由财务制单支付。
        </p>
        <Field label="备注（可选）" hint="记录在处理记录中，最多 500 字">
          {(p) => <textarea {...p} rows={3} maxLength={500} value={note} onInput={(e) => setNote(value(e))} />}
        </Field>
        <ProblemAlert problem={confirm.problem} />
        <DialogButtons onCancel={onClose} label="确认并生成支付" pending={confirm.pending} pendingLabel="正在确认…" />
      </form>
    </Dialog>
  );
}

function RejectDialog({ claim, onClose, onDone }: { claim: ClaimView; onClose: () => void; onDone: () => void }) {
  const [reason, setReason] = useState<RejectReason | "">("");
  const [note, setNote] = useState("");
  const [tried, setTried] = useState(false);
  const reject = useAction((reason_code: RejectReason) =>
    call(() =>
      api.POST("/api/v1/review/claims/{id}/reject", {
        params: { path: { id: claim.id } },
        body: note.trim() ? { reason_code, note: note.trim() } : { reason_code },
      }),
    ),
  );
  return (
    <Dialog title="驳回理赔" onClose={onClose}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setTried(true);
          if (!reason) return;
          const done = await reject.run(reason);
          if (done) {
            notify(`已驳回理赔 ${shortId(claim.id)}`);
            onDone();
            navigate("/finance/claims");
          }
        }}
      >
        <p>驳回后申请人会收到通知，这笔理赔不会支付。</p>
        <Field label="驳回原因" error={tried && !reason ? "请选择驳回原因" : undefined}>
          {(p) => (
            <select {...p} required value={reason} onChange={(e) => setReason(value(e) as RejectReason | "")}>
              <option value="">请选择</option>
              {(Object.keys(REJECT) as RejectReason[]).map((r) => (
                <option key={r} value={r}>
                  {REJECT[r]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="说明（申请人可见）" hint="最多 500 字">
          {(p) => <textarea {...p} rows={3} maxLength={500} value={note} onInput={(e) => setNote(value(e))} />}
        </Field>
        <ProblemAlert problem={reject.problem} />
        <DialogButtons onCancel={onClose} label="驳回理赔" pending={reject.pending} pendingLabel="正在驳回…" danger />
      </form>
    </Dialog>
  );
}
