// Payouts: the list (status, channel, batch and claim filters in the query string), one
// payout with its attempts and trail, and what finance may do to it — cancel a WeChat
// transfer the rider has not confirmed, retry a failed or cancelled one, switch to a payee
// the rider entered, ask for (or decide on) a bank account the rider did not enter.
import { useState } from "preact/hooks";
import { api, call, type Schemas } from "../../api/client";
import { Link, setQuery, useLocation } from "../../router";
import {
  Dialog,
  DialogButtons,
  Empty,
  Field,
  Loader,
  Pager,
  PageTitle,
  ProblemAlert,
  QueryFilter,
  dateTime,
  money,
  notify,
  useAction,
  useLoad,
  usePages,
  value,
} from "../../ui";
import {
  ACTOR_KIND,
  BLOCKER,
  EVENT_ACTION,
  OrgName,
  PAYOUT_STATUS,
  PayoutBadge,
  channelText,
  shortId,
  who,
  type PayoutStatus,
  type PayoutView,
} from "./common";

const STATUSES = Object.keys(PAYOUT_STATUS) as PayoutStatus[];

function payeeText(p: PayoutView["payee"]): string {
  if (p.kind === "wechat_balance") return "微信零钱";
  return `银行账户 ${p.bank ?? ""} ${p.account_masked ?? ""}`.trim();
}

/** The payouts table, shared by the list and a batch's page. */
export function PayoutTable({ items, caption, inBatch }: { items: PayoutView[]; caption?: string; inBatch?: boolean }) {
  return (
    <div class="table-wrap">
      <table class="fin-table">
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            <th scope="col">支付</th>
            <th scope="col" class="num">金额</th>
            <th scope="col">状态</th>
            <th scope="col">渠道</th>
            <th scope="col">收款</th>
            <th scope="col">工会</th>
            {!inBatch && <th scope="col">批次</th>}
            {!inBatch && <th scope="col">可否制单</th>}
            <th scope="col">更新时间</th>
          </tr>
        </thead>
        <tbody>
          {items.map((p) => (
            <tr key={p.id}>
              <td>
                <Link to={`/finance/payouts/${p.id}`} aria-label={`支付 ${shortId(p.id)}（${money(p.amount)}）`}>
                  {shortId(p.id)}
                </Link>
              </td>
              <td class="num">{money(p.amount)}</td>
              <td>
                <PayoutBadge status={p.status} text={p.status_text} />
              </td>
              <td>{channelText(p.channel)}</td>
              <td class="fin-wrap">{payeeText(p.payee)}</td>
              <td class="fin-wrap">
                <OrgName id={p.org_id} />
              </td>
              {!inBatch && <td>{p.batch_id ? <Link to={`/finance/batches/${p.batch_id}`}>{shortId(p.batch_id)}</Link> : "—"}</td>}
              {!inBatch && <td>
                {p.status !== "pending" || p.batch_id ? (
                  "—"
                ) : p.blockers.length === 0 ? (
                  "可制单"
                ) : (
                  <ul class="fin-plain">
                    {p.blockers.map((b) => (
                      <li key={b}>{BLOCKER[b] ?? b}</li>
                    ))}
                  </ul>
                )}
              </td>}
              <td>{dateTime(p.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Payouts() {
  const { query } = useLocation();
  const status = query.get("status") ?? "";
  const channel = query.get("channel") ?? "";
  const unbatched = query.get("unbatched") === "true";
  const claimId = query.get("claim_id") ?? "";
  const batchId = query.get("batch_id") ?? "";
  const pages = usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/finance/payouts", {
          params: {
            query: {
              status: status || undefined,
              channel: channel || undefined,
              unbatched: unbatched || undefined,
              claim_id: claimId || undefined,
              batch_id: batchId || undefined,
              cursor,
              limit: 25,
            },
          },
        }),
      ),
    [status, channel, unbatched, claimId, batchId],
  );
  return (
    <>
      <PageTitle title="支付">
        <Link to="/finance/batches/new" class="button">
          新建支付批次
        </Link>
      </PageTitle>
      <form class="filters" aria-label="筛选支付" onSubmit={(e) => e.preventDefault()}>
        <QueryFilter label="状态" param="status" value={status} options={STATUSES.map((s) => [s, PAYOUT_STATUS[s][0]] as const)} />
        <QueryFilter label="渠道" param="channel" value={channel} options={[["wechat", "微信零钱"], ["bank", "银行转账"]] as const} />
        <div class="field fin-check">
          <label class="check">
            <input
              type="checkbox"
              checked={unbatched}
              onChange={(e) => setQuery({ unbatched: e.currentTarget.checked ? "true" : undefined })}
            />
            只看未进批次的
          </label>
        </div>
        {(claimId || batchId) && (
          <div class="field">
            <p class="fin-filter-note">
              {claimId && <>理赔 {shortId(claimId)} 的支付 </>}
              {batchId && <>批次 {shortId(batchId)} 的支付 </>}
              <button type="button" class="link" onClick={() => setQuery({ claim_id: undefined, batch_id: undefined })}>
                显示全部
              </button>
            </p>
          </div>
        )}
      </form>
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>没有符合条件的支付。</Empty>
          ) : (
            <PayoutTable items={pages.items} caption="最新的在前" />
          )
        }
      </Loader>
      <Pager {...pages} />
    </>
  );
}

type ActionKind = "cancel" | "retry" | "switch" | "request" | "decide";

export function PayoutPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const payout = useLoad(() => call(() => api.GET("/api/v1/finance/payouts/{id}", { params: { path: { id } } })), [id]);
  const events = useLoad(
    () => call(() => api.GET("/api/v1/finance/payouts/{id}/events", { params: { path: { id } } })),
    [id],
  );
  const [dialog, setDialog] = useState<ActionKind | null>(null);
  const reload = () => {
    payout.reload();
    events.reload();
  };
  const done = (text: string) => {
    notify(text);
    setDialog(null);
    reload();
  };
  return (
    <>
      <PageTitle title={`支付 ${shortId(id)}`}>
        <button type="button" class="secondary" disabled={payout.loading} onClick={reload}>
          刷新
        </button>
        <Link to="/finance/payouts" class="button secondary">
          返回支付列表
        </Link>
      </PageTitle>
      <Loader loaded={payout}>
        {(p) => {
          const canCancel = p.status === "awaiting_confirmation" && p.channel === "wechat";
          const canRetry = p.status === "failed" || p.status === "cancelled";
          const canSwitch = p.status === "pending" || p.status === "failed" || p.status === "cancelled";
          const decisionPending = p.blockers.includes("payee_change_pending");
          return (
            <>
              <div class="grid2">
                <section class="panel fin-panel" aria-labelledby="fin-payout-facts">
                  <h2 id="fin-payout-facts">支付</h2>
                  <dl class="facts">
                    <dt>状态</dt>
                    <dd>
                      <PayoutBadge status={p.status} text={p.status_text} />
                    </dd>
                    <dt>金额</dt>
                    <dd>
                      <strong>{money(p.amount)}</strong>
                    </dd>
                    <dt>渠道</dt>
                    <dd>{channelText(p.channel)}</dd>
                    <dt>收款</dt>
                    <dd>
                      {payeeText(p.payee)}
                      {p.payee.entered_by_finance && "（财务录入，已经另一位审批人同意）"}
                    </dd>
                    <dt>工会</dt>
                    <dd>
                      <OrgName id={p.org_id} />
                    </dd>
                    <dt>理赔</dt>
                    <dd>
                      <Link to={`/finance/claims/${p.claim_id}`}>{shortId(p.claim_id)}</Link>
                    </dd>
                    <dt>批次</dt>
                    <dd>{p.batch_id ? <Link to={`/finance/batches/${p.batch_id}`}>{shortId(p.batch_id)}</Link> : "未进批次"}</dd>
                    <dt>生成时间</dt>
                    <dd>{dateTime(p.created_at)}</dd>
                    <dt>支付时间</dt>
                    <dd>{dateTime(p.paid_at)}</dd>
                    {p.failure_detail && (
                      <>
                        <dt>失败原因</dt>
                        <dd>
                          {p.failure_detail}
                          {p.failure_code && <span class="muted small">（{p.failure_code}）</span>}
                        </dd>
                      </>
                    )}
                  </dl>
                </section>
                <section class="panel fin-panel" aria-labelledby="fin-payout-actions">
                  <h2 id="fin-payout-actions">办理</h2>
                  {p.status === "pending" && !p.batch_id && (
                    <p>
                      {p.blockers.length === 0
                        ? "可以放入支付批次。"
                        : `暂不能制单：${p.blockers.map((b) => BLOCKER[b] ?? b).join("；")}。`}
                    </p>
                  )}
                  <div class="row">
                    {canCancel && (
                      <button type="button" class="danger" onClick={() => setDialog("cancel")}>
                        撤销转账
                      </button>
                    )}
                    {canRetry && (
                      <button type="button" onClick={() => setDialog("retry")}>
                        重新支付
                      </button>
                    )}
                    {canSwitch && !decisionPending && (
                      <>
                        <button type="button" class="secondary" onClick={() => setDialog("switch")}>
                          更换收款人
                        </button>
                        <button type="button" class="secondary" onClick={() => setDialog("request")}>
                          申请改付银行账户
                        </button>
                      </>
                    )}
                    {decisionPending && (
                      <button type="button" onClick={() => setDialog("decide")}>
                        审批收款账户变更
                      </button>
                    )}
                  </div>
                  {!canCancel && !canRetry && !canSwitch && !decisionPending && (
                    <p class="muted">这笔支付现在没有可办理的事项。</p>
                  )}
                </section>
              </div>
              <section aria-labelledby="fin-payout-attempts">
                <h2 id="fin-payout-attempts">支付尝试</h2>
                {p.attempts.length === 0 ? (
                  <Empty>还没有发出过。</Empty>
                ) : (
                  <div class="table-wrap">
                    <table>
                      <thead>
                        <tr>
                          <th scope="col">商户单号</th>
                          <th scope="col">渠道</th>
                          <th scope="col">状态</th>
                          <th scope="col" class="num">金额</th>
                          <th scope="col">发出</th>
                          <th scope="col">完成</th>
                          <th scope="col">对账</th>
                        </tr>
                      </thead>
                      <tbody>
                        {p.attempts.map((a) => (
                          <tr key={a.out_bill_no}>
                            <td>
                              <code>{a.out_bill_no}</code>
                              {a.transfer_bill_no && <div class="muted small">微信单号 {a.transfer_bill_no}</div>}
                            </td>
                            <td>{channelText(a.channel)}</td>
                            <td>
                              <code>{a.state}</code>
                              {a.outcome_unknown && <div class="small">结果未知，将先查询</div>}
                              {a.fail_reason && <div class="small">{a.fail_reason}</div>}
                            </td>
                            <td class="num">{money(a.amount)}</td>
                            <td>
                              {dateTime(a.sent_at)}
                              {a.sends > 1 && <div class="muted small">发送 {a.sends} 次</div>}
                            </td>
                            <td>{dateTime(a.final_at)}</td>
                            <td>
                              {a.reconciled ? (
                                <Link to={`/finance/reconciliations/${a.reconciled.run_id}`}>{a.reconciled.date} 已对平</Link>
                              ) : (
                                "—"
                              )}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </section>
              {dialog === "cancel" && (
                <NoteDialog
                  title="撤销微信转账"
                  intro="收款人尚未确认收款。撤销以微信支付的答复为准；撤销后可以重新支付。"
                  submit="撤销转账"
                  danger
                  onClose={() => setDialog(null)}
                  send={(note) =>
                    call(() =>
                      api.POST("/api/v1/finance/payouts/{id}/cancel", { params: { path: { id } }, body: note ? { note } : {} }),
                    )
                  }
                  onDone={() => done("已撤销转账")}
                />
              )}
              {dialog === "retry" && (
                <NoteDialog
                  title="重新支付"
                  intro="以新的商户单号重新发起。微信支付的款项会回到待支付，银行的款项需放入新的银行批次。"
                  submit="重新支付"
                  onClose={() => setDialog(null)}
                  send={(note) =>
                    call(() =>
                      api.POST("/api/v1/finance/payouts/{id}/retry", { params: { path: { id } }, body: note ? { note } : {} }),
                    )
                  }
                  onDone={() => done("已重新发起支付")}
                />
              )}
              {dialog === "switch" && <SwitchDialog payout={p} onClose={() => setDialog(null)} onDone={() => done("已更换收款人")} />}
              {dialog === "request" && (
                <PayeeRequestDialog payout={p} onClose={() => setDialog(null)} onDone={() => done("已提交，等待另一位财务审批人同意")} />
              )}
              {dialog === "decide" && <DecideDialog payout={p} onClose={() => setDialog(null)} onDone={done} />}
            </>
          );
        }}
      </Loader>
      <section aria-labelledby="fin-payout-trail">
        <h2 id="fin-payout-trail">处理记录</h2>
        <Loader loaded={events}>
          {(list) =>
            list.length === 0 ? (
              <Empty>还没有记录。</Empty>
            ) : (
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">时间</th>
                      <th scope="col">经办</th>
                      <th scope="col">事项</th>
                      <th scope="col">状态</th>
                      <th scope="col">说明</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((e, i) => (
                      <tr key={`${e.at}-${i}`}>
                        <td>{dateTime(e.at)}</td>
                        <td>{e.actor_kind === "staff" ? who(e.actor_id) : (ACTOR_KIND[e.actor_kind] ?? e.actor_kind)}</td>
                        <td>{EVENT_ACTION[e.action] ?? e.action}</td>
                        <td>
                          {e.from_status && e.from_status !== e.to_status && <>{PAYOUT_STATUS[e.from_status][0]} → </>}
                          {PAYOUT_STATUS[e.to_status][0]}
                        </td>
                        <td>
                          <EventNote note={e.note} />
                          {e.reason_code && <span class="muted small"> （{e.reason_code}）</span>}
                          {e.out_bill_no && <div class="muted small">单号 {e.out_bill_no}</div>}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Loader>
      </section>
    </>
  );
}

/** A batch event's note is `batch <id>`: shown as a link to the batch. */
function EventNote({ note }: { note: string | undefined }) {
  const m = note ? /^batch ([0-9a-f-]{36})$/.exec(note) : null;
  if (m?.[1]) return <Link to={`/finance/batches/${m[1]}`}>批次 {shortId(m[1])}</Link>;
  return <>{note}</>;
}

function NoteDialog({
  title,
  intro,
  submit,
  danger,
  send,
  onClose,
  onDone,
}: {
  title: string;
  intro: string;
  submit: string;
  danger?: boolean;
  send: (note: string | undefined) => Promise<unknown>;
  onClose: () => void;
  onDone: () => void;
}) {
  const [note, setNote] = useState("");
  const action = useAction(() => send(note.trim() || undefined));
  return (
    <Dialog title={title} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if ((await action.run()) !== undefined) onDone();
        }}
      >
        <p>{intro}</p>
        <Field label="原因（记入处理记录）" hint="最多 500 字">
          {(p) => <textarea {...p} rows={3} maxLength={500} value={note} onInput={(e) => setNote(value(e))} />}
        </Field>
        <ProblemAlert problem={action.problem} />
        <DialogButtons onCancel={onClose} label={submit} pending={action.pending} danger={danger} />
      </form>
    </Dialog>
  );
}

function SwitchDialog({ payout, onClose, onDone }: { payout: PayoutView; onClose: () => void; onDone: () => void }) {
  const [kind, setKind] = useState<Schemas["PayeeKind"]>(payout.payee.kind === "bank" ? "wechat_balance" : "bank");
  const [fromClaim, setFromClaim] = useState(payout.claim_id);
  const [reason, setReason] = useState("");
  const action = useAction(() =>
    call(() =>
      api.POST("/api/v1/finance/payouts/{id}/payee", {
        params: { path: { id: payout.id } },
        body: kind === "bank" ? { kind, from_claim_id: fromClaim.trim(), reason: reason.trim() } : { kind, reason: reason.trim() },
      }),
    ),
  );
  return (
    <Dialog title="更换收款人" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (await action.run()) onDone();
        }}
      >
        <p>只能改为会员本人填写过的收款方式。会员会收到通知。</p>
        <fieldset>
          <legend>改为</legend>
          <label class="check">
            <input type="radio" name="fin-kind" checked={kind === "wechat_balance"} onChange={() => setKind("wechat_balance")} />
            会员的微信零钱
          </label>
          <label class="check">
            <input type="radio" name="fin-kind" checked={kind === "bank"} onChange={() => setKind("bank")} />
            会员在某笔理赔中填写的银行账户
          </label>
        </fieldset>
        {kind === "bank" && (
          <Field label="银行账户所在的理赔编号" hint="会员本人的理赔（完整编号）；默认是这笔支付的理赔">
            {(p) => <input {...p} required value={fromClaim} onInput={(e) => setFromClaim(value(e))} />}
          </Field>
        )}
        <Field label="原因" hint="记入处理记录并告知会员，最多 200 字">
          {(p) => <textarea {...p} rows={2} required maxLength={200} value={reason} onInput={(e) => setReason(value(e))} />}
        </Field>
        <ProblemAlert problem={action.problem} />
        <DialogButtons onCancel={onClose} label="更换收款人" pending={action.pending} />
      </form>
    </Dialog>
  );
}

function PayeeRequestDialog({ payout, onClose, onDone }: { payout: PayoutView; onClose: () => void; onDone: () => void }) {
  const [holder, setHolder] = useState("");
  const [bank, setBank] = useState("");
  const [account, setAccount] = useState("");
  const [reason, setReason] = useState("");
  const action = useAction(() =>
    call(() =>
      api.POST("/api/v1/finance/payouts/{id}/payee-request", {
        params: { path: { id: payout.id } },
        body: { holder: holder.trim(), bank: bank.trim(), account: account.trim(), reason: reason.trim() },
      }),
    ),
  );
  return (
    <Dialog title="申请改付银行账户" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (await action.run()) onDone();
        }}
      >
        <p>改付到会员未填写过的账户，须由另一位财务审批人同意后生效。会员会收到通知。</p>
        <Field label="户名">
          {(p) => <input {...p} required maxLength={50} autoComplete="off" value={holder} onInput={(e) => setHolder(value(e))} />}
        </Field>
        <Field label="开户行">
          {(p) => <input {...p} required maxLength={60} autoComplete="off" value={bank} onInput={(e) => setBank(value(e))} />}
        </Field>
        <Field label="账号" hint="8 到 30 位数字">
          {(p) => (
            <input
              {...p}
              required
              inputMode="numeric"
              autoComplete="off"
              pattern="[0-9 ]{8,40}"
              value={account}
              onInput={(e) => setAccount(value(e))}
            />
          )}
        </Field>
        <Field label="原因" hint="记入处理记录并告知会员，最多 200 字">
          {(p) => <textarea {...p} rows={2} required maxLength={200} value={reason} onInput={(e) => setReason(value(e))} />}
        </Field>
        <ProblemAlert problem={action.problem} />
        <DialogButtons onCancel={onClose} label="提交申请" pending={action.pending} />
      </form>
    </Dialog>
  );
}

function DecideDialog({ payout, onClose, onDone }: { payout: PayoutView; onClose: () => void; onDone: (text: string) => void }) {
  const action = useAction((approve: boolean) =>
    call(() =>
      api.POST("/api/v1/finance/payouts/{id}/payee-request/decide", {
        params: { path: { id: payout.id } },
        body: { approve },
      }),
    ).then(() => approve),
  );
  return (
    <Dialog title="审批收款账户变更" onClose={onClose}>
      <p>
        另一位财务审批人申请把这笔 {money(payout.amount)} 的支付改付到会员未填写过的银行账户（申请的原因见处理记录）。提出申请的人不能自己审批。
      </p>
      <ProblemAlert problem={action.problem} />
      <div class="buttons">
        <button type="button" class="secondary" onClick={onClose}>
          取消
        </button>
        <button
          type="button"
          class="danger"
          disabled={action.pending}
          onClick={async () => {
            if ((await action.run(false)) !== undefined) onDone("已拒绝收款账户变更");
          }}
        >
          拒绝
        </button>
        <button
          type="button"
          disabled={action.pending}
          onClick={async () => {
            if ((await action.run(true)) !== undefined) onDone("已同意收款账户变更");
          }}
        >
          同意
        </button>
      </div>
    </Dialog>
  );
}
