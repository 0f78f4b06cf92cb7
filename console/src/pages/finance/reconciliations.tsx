// Reconciliation: the runs (one per channel and day), uploading a statement, and a run's
// page — both sides' totals, counts by outcome, the exception items page by page with their
// resolutions, resolving one with a note, the exceptions as CSV, reconciling the day again.
import { useEffect, useState } from "preact/hooks";
import { api, call, fetchBlob, saveBlob, type Schemas } from "../../api/client";
import { Link, navigate, setQuery, useLocation } from "../../router";
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
  QueryFilter,
  date,
  dateTime,
  money,
  notify,
  useAction,
  useLoad,
  usePages,
  value,
} from "../../ui";
import { HELD, OUTCOME, RUN_STATUS, RunBadge, accountText, shortId, todayInChina, who, type ItemView, type Outcome, type RunView } from "./common";

const OUTCOMES = Object.keys(OUTCOME) as Outcome[];
const RUN_STATUSES = Object.keys(RUN_STATUS) as Schemas["RunStatus"][];

export function Reconciliations() {
  const { query } = useLocation();
  const channel = query.get("channel") ?? "";
  const status = query.get("status") ?? "";
  const exceptions = query.get("with_exceptions") ?? "";
  const [uploading, setUploading] = useState(false);
  const pages = usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/finance/reconciliations", {
          params: {
            query: {
              channel: channel || undefined,
              status: status || undefined,
              with_exceptions: exceptions === "" ? undefined : exceptions === "true",
              cursor,
              limit: 25,
            },
          },
        }),
      ),
    [channel, status, exceptions],
  );
  return (
    <>
      <PageTitle title="对账">
        <button type="button" onClick={() => setUploading(true)}>
          上传对账单
        </button>
      </PageTitle>
      <p class="muted">每个渠道每天一次对账：微信支付的资金账单每天自动下载；银行对账单由财务上传。</p>
      <form class="filters" aria-label="筛选对账" onSubmit={(e) => e.preventDefault()}>
        <QueryFilter label="渠道" param="channel" value={channel} options={[["wechat", "微信支付"], ["bank", "银行"]] as const} />
        <QueryFilter label="状态" param="status" value={status} options={RUN_STATUSES.map((s) => [s, RUN_STATUS[s][0]] as const)} />
        <QueryFilter label="差异" param="with_exceptions" value={exceptions} options={[["true", "有差异"], ["false", "无差异"]] as const} />
      </form>
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>没有对账记录。</Empty>
          ) : (
            <div class="table-wrap">
              <table class="fin-table">
                <caption>最近的日期在前</caption>
                <thead>
                  <tr>
                    <th scope="col">日期</th>
                    <th scope="col">渠道</th>
                    <th scope="col">状态</th>
                    <th scope="col" class="num">账单行</th>
                    <th scope="col" class="num">差异</th>
                    <th scope="col" class="num">未处理</th>
                    <th scope="col">总额</th>
                    <th scope="col">来源</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((r) => (
                    <tr key={r.id}>
                      <td>
                        <Link to={`/finance/reconciliations/${r.id}`} aria-label={`${date(r.date)} ${accountText(r.channel)}对账`}>
                          {date(r.date)}
                        </Link>
                      </td>
                      <td>{accountText(r.channel)}</td>
                      <td>
                        <RunBadge status={r.status} />
                      </td>
                      <td class="num">{r.statement_lines}</td>
                      <td class="num">{r.exceptions}</td>
                      <td class="num">{r.unresolved > 0 ? <Badge tone="warn">{r.unresolved}</Badge> : 0}</td>
                      <td>{r.summary ? r.summary.totals_agree ? <Badge tone="good">一致</Badge> : <Badge tone="bad">不一致</Badge> : "—"}</td>
                      <td>{sourceText(r)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loader>
      <Pager {...pages} />
      {uploading && <StatementDialog onClose={() => setUploading(false)} />}
    </>
  );
}

function sourceText(r: RunView): string {
  if (r.source === "download") return "自动下载";
  if (r.source === "upload") return `${who(r.uploaded_by)}上传`;
  return "—";
}

function StatementDialog({ onClose }: { onClose: () => void }) {
  const [channel, setChannel] = useState<"wechat" | "bank">("bank");
  const [day, setDay] = useState(todayInChina(-1));
  const [file, setFile] = useState<File | null>(null);
  const [tried, setTried] = useState(false);
  const upload = useAction((f: File) =>
    call(() =>
      api.POST("/api/v1/finance/statements", {
        params: { query: { channel, date: day } },
        body: "",
        bodySerializer: () => f,
        headers: { "Content-Type": "text/csv" },
      }),
    ),
  );
  return (
    <Dialog title="上传对账单" onClose={onClose}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setTried(true);
          if (!file || !day) return;
          const run = await upload.run(file);
          if (run) {
            notify(`${date(run.date)} 的对账单已收到，正在对账`);
            onClose();
            navigate(`/finance/reconciliations/${run.id}`);
          }
        }}
      >
        <p>已有的当日对账会用新对账单重新对账，已做的差异处理保留。</p>
        <Field label="渠道">
          {(p) => (
            <select {...p} value={channel} onChange={(e) => setChannel(value(e) === "wechat" ? "wechat" : "bank")}>
              <option value="bank">银行账户对账单（按本工会的对账单模板）</option>
              <option value="wechat">微信支付运营账户资金账单（下载的原文件）</option>
            </select>
          )}
        </Field>
        <Field label="账单日期" hint="已经结束的一天（北京时间）" error={tried && !day ? "请选择账单日期" : undefined}>
          {(p) => <input {...p} type="date" required max={todayInChina(-1)} value={day} onInput={(e) => setDay(value(e))} />}
        </Field>
        <Field label="对账单文件" error={tried && !file ? "请选择文件" : undefined}>
          {(p) => <input {...p} type="file" accept=".csv,.txt,text/csv,text/plain" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />}
        </Field>
        <ProblemAlert problem={upload.problem} />
        <DialogButtons onCancel={onClose} label="上传并对账" pending={upload.pending} pendingLabel="正在上传…" />
      </form>
    </Dialog>
  );
}

export function RunPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const { query } = useLocation();
  const outcome = query.get("outcome") ?? "";
  const resolved = query.get("resolved") ?? "";
  const run = useLoad(() => call(() => api.GET("/api/v1/finance/reconciliations/{id}", { params: { path: { id } } })), [id]);
  const items = usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/finance/reconciliations/{id}/items", {
          params: {
            path: { id },
            query: {
              outcome: outcome || undefined,
              resolved: resolved === "" || outcome === "matched" ? undefined : resolved === "true",
              cursor,
              limit: 25,
            },
          },
        }),
      ),
    [id, outcome, resolved],
  );
  const [resolving, setResolving] = useState<ItemView | null>(null);
  const [rerunning, setRerunning] = useState(false);
  const csv = useAction(async (r: RunView) => {
    const blob = await fetchBlob(`/api/v1/finance/reconciliations/${encodeURIComponent(r.id)}/exceptions.csv`);
    saveBlob(blob, `对账差异-${r.channel}-${r.date}.csv`);
  });
  // While the job works, look again every few seconds.
  const busy = run.data?.status === "queued" || run.data?.status === "running";
  useEffect(() => {
    if (!busy) return;
    const t = setInterval(() => {
      run.reload();
      items.reload();
    }, 3000);
    return () => clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [busy]);
  const title = run.data ? `${date(run.data.date)} ${accountText(run.data.channel)}对账` : "对账";
  return (
    <>
      <PageTitle title={title}>
        <Link to="/finance/reconciliations" class="button secondary">
          返回对账
        </Link>
      </PageTitle>
      <Loader loaded={run}>
        {(r) => (
          <>
            <RunSummary run={r} />
            <div class="row fin-actions">
              <button type="button" class="secondary" disabled={csv.pending} onClick={() => void csv.run(r)}>
                {csv.pending ? "正在下载…" : "下载差异明细（CSV）"}
              </button>
              <button type="button" class="secondary" disabled={busy} onClick={() => setRerunning(true)}>
                重新对账
              </button>
            </div>
            <ProblemAlert problem={csv.problem} />
            {rerunning && (
              <RerunDialog
                run={r}
                onClose={() => setRerunning(false)}
                onDone={() => {
                  setRerunning(false);
                  run.reload();
                  items.reload();
                }}
              />
            )}
          </>
        )}
      </Loader>
      <section aria-labelledby="fin-run-items">
        <h2 id="fin-run-items">明细</h2>
        <form class="filters" aria-label="筛选明细" onSubmit={(e) => e.preventDefault()}>
          <Field label="类型">
            {(p) => (
              <select {...p} value={outcome} onChange={(e) => setQuery({ outcome: value(e) })}>
                <option value="">全部差异</option>
                {OUTCOMES.map((o) => (
                  <option key={o} value={o}>
                    {OUTCOME[o]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {outcome !== "matched" && (
            <QueryFilter label="处理" param="resolved" value={resolved} options={[["false", "未处理"], ["true", "已处理"]] as const} />
          )}
        </form>
        <Loader loaded={items}>
          {() =>
            items.items.length === 0 ? (
              <Empty>{outcome === "matched" ? "没有匹配的账单行。" : "没有差异。"}</Empty>
            ) : (
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">行</th>
                      <th scope="col">类型</th>
                      <th scope="col">单号</th>
                      <th scope="col" class="num">账单金额</th>
                      <th scope="col" class="num">我方金额</th>
                      <th scope="col">我方状态</th>
                      <th scope="col">记账时间</th>
                      <th scope="col">处理</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.items.map((it) => (
                      <tr key={`${it.outcome}-${it.id}`}>
                        <td>{it.line ?? "—"}</td>
                        <td>
                          {it.outcome === "matched" ? <Badge tone="good">{OUTCOME.matched}</Badge> : <Badge tone="warn">{OUTCOME[it.outcome]}</Badge>}
                          {it.direction === "in" && <div class="muted small">退回</div>}
                        </td>
                        <td>
                          {it.out_bill_no ?? it.reference ?? "—"}
                          {it.provider_no && <div class="muted small">渠道单号 {it.provider_no}</div>}
                          {it.payout_id && (
                            <div class="small">
                              <Link to={`/finance/payouts/${it.payout_id}`}>支付 {shortId(it.payout_id)}</Link>
                            </div>
                          )}
                        </td>
                        <td class="num">{money(it.statement_amount)}</td>
                        <td class="num">{money(it.our_amount)}</td>
                        <td>{it.held ? HELD[it.held] : "—"}</td>
                        <td>{it.booked_at ? it.booked_at.replace("T", " ") : "—"}</td>
                        <td>
                          {it.outcome === "matched" ? (
                            "—"
                          ) : it.resolution ? (
                            <>
                              <Badge tone="good">已处理</Badge>
                              <div class="small">{it.resolution.note}</div>
                              <div class="muted small">
                                {who(it.resolution.resolved_by)}，{dateTime(it.resolution.resolved_at)}
                              </div>
                            </>
                          ) : (
                            <button
                              type="button"
                              class="secondary"
                              aria-label={`处理第 ${it.line ?? it.id} 行：${OUTCOME[it.outcome]}`}
                              onClick={() => setResolving(it)}
                            >
                              处理
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Loader>
        <Pager {...items} />
      </section>
      {resolving && (
        <ResolveDialog
          runId={id}
          item={resolving}
          onClose={() => setResolving(null)}
          onDone={() => {
            setResolving(null);
            notify("差异已处理");
            run.reload();
            items.reload();
          }}
        />
      )}
    </>
  );
}

function Figure({ label, f }: { label: string; f: Schemas["Figure"] }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>
        {f.count} 笔，{money(f.amount)}
      </dd>
    </>
  );
}

function RunSummary({ run: r }: { run: RunView }) {
  const s = r.summary;
  return (
    <>
      <div class="grid2">
        <section class="panel fin-panel" aria-labelledby="fin-run-facts">
          <h2 id="fin-run-facts">对账</h2>
          <dl class="facts">
            <dt>状态</dt>
            <dd>
              <RunBadge status={r.status} />
            </dd>
            <dt>账单日期</dt>
            <dd>{date(r.date)}</dd>
            <dt>渠道</dt>
            <dd>{accountText(r.channel)}</dd>
            <dt>来源</dt>
            <dd>{sourceText(r)}</dd>
            <dt>账单行数</dt>
            <dd>{r.statement_lines}</dd>
            <dt>差异</dt>
            <dd>
              {r.exceptions} 项，未处理 {r.unresolved} 项
            </dd>
            <dt>完成时间</dt>
            <dd>{dateTime(r.finished_at)}</dd>
          </dl>
          {r.failure && (
            <div class="problem" role="alert">
              <p>{r.failure.detail}</p>
              <p class="muted small">
                错误代码：<code>{r.failure.code}</code>
              </p>
            </div>
          )}
        </section>
        {s && (
          <section class="panel fin-panel" aria-labelledby="fin-run-totals">
            <h2 id="fin-run-totals">总额</h2>
            <dl class="facts">
              <Figure label="账单支出" f={s.statement_out} />
              <Figure label="账单退回" f={s.statement_in} />
              <Figure label="其他收入" f={s.statement_other_in} />
              <Figure label="我方已支付" f={s.our_paid} />
              <dt>支出总额</dt>
              <dd>{s.totals_agree ? <Badge tone="good">双方一致</Badge> : <Badge tone="bad">双方不一致</Badge>}</dd>
              {s.bill_summary_agrees !== null && s.bill_summary_agrees !== undefined && (
                <>
                  <dt>账单汇总行</dt>
                  <dd>{s.bill_summary_agrees ? <Badge tone="good">与明细一致</Badge> : <Badge tone="bad">与明细不一致</Badge>}</dd>
                </>
              )}
            </dl>
            {s.bill_summary_differences.length > 0 && (
              <ul>
                {s.bill_summary_differences.map((d) => (
                  <li key={d}>{d}</li>
                ))}
              </ul>
            )}
          </section>
        )}
      </div>
      {s && (
        <div class="table-wrap fin-gap">
          <table>
            <caption>按结果</caption>
            <thead>
              <tr>
                <th scope="col">结果</th>
                <th scope="col" class="num">笔数</th>
                <th scope="col" class="num">账单金额</th>
                <th scope="col" class="num">我方金额</th>
              </tr>
            </thead>
            <tbody>
              {s.outcomes.map((o) => (
                <tr key={o.outcome}>
                  <td>{OUTCOME[o.outcome]}</td>
                  <td class="num">{o.count}</td>
                  <td class="num">{money(o.statement_amount)}</td>
                  <td class="num">{money(o.our_amount)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {s && s.unreadable_lines > 0 && (
        <div class="table-wrap fin-gap">
          <table>
            <caption>无法读取的行（共 {s.unreadable_lines} 行，列出前 100 行）</caption>
            <thead>
              <tr>
                <th scope="col">行</th>
                <th scope="col">原因</th>
              </tr>
            </thead>
            <tbody>
              {s.unreadable_samples.map((l) => (
                <tr key={l.line}>
                  <td>{l.line}</td>
                  <td>{l.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function RerunDialog({ run, onClose, onDone }: { run: RunView; onClose: () => void; onDone: () => void }) {
  const rerun = useAction(() => call(() => api.POST("/api/v1/finance/reconciliations/{id}/rerun", { params: { path: { id: run.id } } })));
  return (
    <Dialog title="重新对账" onClose={onClose}>
      <p>
        用已保存的对账单{run.channel === "wechat" ? "（或重新下载的微信支付账单）" : ""}重新对 {date(run.date)} 的账。已做的差异处理会保留。
      </p>
      <ProblemAlert problem={rerun.problem} />
      <DialogButtons
        onCancel={onClose}
        label="重新对账"
        pending={rerun.pending}
        onConfirm={async () => {
          if (await rerun.run()) {
            notify("已开始重新对账");
            onDone();
          }
        }}
      />
    </Dialog>
  );
}

function ResolveDialog({ runId, item, onClose, onDone }: { runId: string; item: ItemView; onClose: () => void; onDone: () => void }) {
  const [note, setNote] = useState("");
  const [tried, setTried] = useState(false);
  const resolve = useAction(() =>
    call(() =>
      api.POST("/api/v1/finance/reconciliations/{id}/items/{item}/resolve", {
        params: { path: { id: runId, item: item.id } },
        body: { note: note.trim() },
      }),
    ),
  );
  const blank = note.trim() === "";
  return (
    <Dialog title="处理对账差异" onClose={onClose}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setTried(true);
          if (blank) return;
          if (await resolve.run()) onDone();
        }}
      >
        <dl class="facts">
          <dt>类型</dt>
          <dd>{OUTCOME[item.outcome]}</dd>
          <dt>账单行</dt>
          <dd>{item.line ?? "—"}</dd>
          <dt>单号</dt>
          <dd>{item.out_bill_no ?? item.reference ?? "—"}</dd>
          <dt>账单金额</dt>
          <dd>{money(item.statement_amount)}</dd>
          <dt>我方金额</dt>
          <dd>{money(item.our_amount)}</dd>
        </dl>
        <Field label="处理说明" hint="查明的原因和所做的处理，1 到 500 字；重新对账时保留" error={tried && blank ? "请填写处理说明" : undefined}>
          {(p) => <textarea {...p} rows={4} required maxLength={500} value={note} onInput={(e) => setNote(value(e))} />}
        </Field>
        <ProblemAlert problem={resolve.problem} />
        <DialogButtons onCancel={onClose} label="标为已处理" pending={resolve.pending} />
      </form>
    </Dialog>
  );
}
