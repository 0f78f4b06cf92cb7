// Payout batches: the list, building one (chosen payouts, or the oldest payable ones of a
// channel up to a count or an amount), and a batch's page — its payouts and sums by state,
// the approval by a second finance approver, and for bank batches the transfer file (served
// once) and the bank's result file.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, call, fetchBlob, saveBlob, type Schemas } from "../../api/client";
import { Link, navigate } from "../../router";
import { session } from "../../session";
import {
  Dialog,
  DialogButtons,
  Empty,
  Field,
  Loader,
  Pager,
  PageTitle,
  ProblemAlert,
  dateTime,
  money,
  notify,
  useAction,
  useIdempotent,
  useLoad,
  usePages,
  value,
} from "../../ui";
import { BLOCKER, BatchBadge, OrgName, PAYOUT_STATUS, PayoutBadge, channelText, shortId, who, type BatchView } from "./common";
import { PayoutTable } from "./payouts";

type BatchChannel = Schemas["BatchChannel"];

const AMOUNT = /^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$/;

/** "30000.00" → 3000000 fen, exactly. */
function fen(yuan: string): number {
  const [i = "0", f = ""] = yuan.split(".");
  return Number(i) * 100 + Number(f.padEnd(2, "0").slice(0, 2));
}

/** 3000000 fen → "30000.00". */
function yuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, "0")}`;
}

export function Batches() {
  const pages = usePages((cursor) => call(() => api.GET("/api/v1/finance/payout-batches", { params: { query: { cursor, limit: 20 } } })), []);
  return (
    <>
      <PageTitle title="支付批次">
        <Link to="/finance/batches/new" class="button">
          新建支付批次
        </Link>
      </PageTitle>
      <p class="muted">每个批次由一位财务审批人制单、另一位审批。微信批次审批后立即转账；银行批次审批后导出银行文件。</p>
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>还没有支付批次。</Empty>
          ) : (
            <div class="table-wrap">
              <table class="fin-table">
                <caption>最新的在前</caption>
                <thead>
                  <tr>
                    <th scope="col">批次</th>
                    <th scope="col">渠道</th>
                    <th scope="col">状态</th>
                    <th scope="col" class="num">笔数</th>
                    <th scope="col" class="num">合计</th>
                    <th scope="col">工会</th>
                    <th scope="col">制单</th>
                    <th scope="col">审批</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((b) => (
                    <tr key={b.id}>
                      <td>
                        <Link to={`/finance/batches/${b.id}`} aria-label={`批次 ${shortId(b.id)}（${channelText(b.channel)}，${money(b.total)}）`}>
                          {shortId(b.id)}
                        </Link>
                      </td>
                      <td>{channelText(b.channel)}</td>
                      <td>
                        <BatchBadge batch={b} />
                      </td>
                      <td class="num">{b.payouts}</td>
                      <td class="num">{money(b.total)}</td>
                      <td class="fin-wrap">
                        <OrgName id={b.org_id} />
                      </td>
                      <td>
                        {who(b.created_by)}
                        <div class="muted small">{dateTime(b.created_at)}</div>
                      </td>
                      <td>
                        {b.approved_by ? (
                          <>
                            {who(b.approved_by)}
                            <div class="muted small">{dateTime(b.approved_at)}</div>
                          </>
                        ) : (
                          "—"
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
      <Pager {...pages} />
    </>
  );
}

export function NewBatch() {
  const [channel, setChannel] = useState<BatchChannel>("wechat");
  const [mode, setMode] = useState<"pick" | "auto">("pick");
  const [picked, setPicked] = useState<Map<string, string>>(new Map());
  const [maxCount, setMaxCount] = useState("");
  const [maxAmount, setMaxAmount] = useState("");
  const [errors, setErrors] = useState<{ count?: string; amount?: string; picked?: string }>({});
  const idempotent = useIdempotent();
  const candidates = usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/finance/payouts", {
          params: { query: { status: "pending", channel, unbatched: true, cursor, limit: 25 } },
        }),
      ),
    [channel],
  );
  const build = useAction(async (body: Schemas["BatchBody"]) => {
    return idempotent(body, (key) =>
      call(() =>
        api.POST("/api/v1/finance/payout-batches", {
          params: { header: { "Idempotency-Key": key } },
          body,
        }),
      ),
    );
  });
  const pickedFen = [...picked.values()].reduce((s, a) => s + fen(a), 0);

  const submit = async (e: JSX.TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const errs: typeof errors = {};
    let body: Schemas["BatchBody"];
    if (mode === "pick") {
      if (picked.size === 0) errs.picked = "请至少选择一笔支付";
      body = { channel, payout_ids: [...picked.keys()] };
    } else {
      body = { channel };
      if (maxCount.trim()) {
        const n = Number(maxCount);
        if (!Number.isInteger(n) || n < 1 || n > 1000) errs.count = "请填写 1 到 1000 之间的整数";
        else body.max_count = n;
      }
      if (maxAmount.trim()) {
        if (!AMOUNT.test(maxAmount.trim())) errs.amount = "请填写金额，如 50000 或 50000.00";
        else body.max_amount = maxAmount.trim();
      }
    }
    setErrors(errs);
    if (Object.keys(errs).length > 0) return;
    const batch = await build.run(body);
    if (batch) {
      notify(`已建立批次 ${shortId(batch.id)}：${batch.payouts} 笔，合计 ${money(batch.total)}，请另一位财务审批人审批`);
      navigate(`/finance/batches/${batch.id}`);
    }
  };

  return (
    <>
      <PageTitle title="新建支付批次">
        <Link to="/finance/batches" class="button secondary">
          返回支付批次
        </Link>
      </PageTitle>
      <form onSubmit={submit} noValidate>
        <div class="panel fin-panel">
          <fieldset>
            <legend>渠道</legend>
            <label class="check">
              <input
                type="radio"
                name="fin-channel"
                value="wechat"
                checked={channel === "wechat"}
                onChange={() => {
                  setChannel("wechat");
                  setPicked(new Map());
                }}
              />
              微信零钱
            </label>
            <label class="check">
              <input
                type="radio"
                name="fin-channel"
                value="bank"
                checked={channel === "bank"}
                onChange={() => {
                  setChannel("bank");
                  setPicked(new Map());
                }}
              />
              银行转账
            </label>
          </fieldset>
          <fieldset>
            <legend>放入哪些支付</legend>
            <label class="check">
              <input type="radio" name="fin-mode" checked={mode === "pick"} onChange={() => setMode("pick")} />
              逐笔选择
            </label>
            <label class="check">
              <input type="radio" name="fin-mode" checked={mode === "auto"} onChange={() => setMode("auto")} />
              自动选取最早的可支付款项
            </label>
          </fieldset>
          {mode === "auto" && (
            <div class="filters">
              <Field label="最多笔数" hint="不填为 200 笔" error={errors.count}>
                {(p) => <input {...p} inputMode="numeric" value={maxCount} onInput={(e) => setMaxCount(value(e))} />}
              </Field>
              <Field label="最多金额（元）" hint="不填为不限" error={errors.amount}>
                {(p) => <input {...p} inputMode="decimal" value={maxAmount} onInput={(e) => setMaxAmount(value(e))} />}
              </Field>
            </div>
          )}
        </div>
        {mode === "pick" && (
          <section aria-labelledby="fin-candidates">
            <h2 id="fin-candidates">未进批次的{channelText(channel)}待支付款项</h2>
            <Loader loaded={candidates}>
              {() =>
                candidates.items.length === 0 ? (
                  <Empty>没有可放入批次的{channelText(channel)}支付。</Empty>
                ) : (
                  <div class="table-wrap">
                    <table class="fin-table">
                      <thead>
                        <tr>
                          <th scope="col">选择</th>
                          <th scope="col">支付</th>
                          <th scope="col" class="num">金额</th>
                          <th scope="col">收款</th>
                          <th scope="col">工会</th>
                          <th scope="col">生成时间</th>
                          <th scope="col">可否制单</th>
                        </tr>
                      </thead>
                      <tbody>
                        {candidates.items.map((p) => {
                          const blocked = p.blockers.length > 0;
                          return (
                            <tr key={p.id}>
                              <td>
                                <input
                                  type="checkbox"
                                  aria-label={`选择支付 ${shortId(p.id)}（${money(p.amount)}）`}
                                  disabled={blocked}
                                  checked={picked.has(p.id)}
                                  onChange={(e) => {
                                    const next = new Map(picked);
                                    if (e.currentTarget.checked) next.set(p.id, p.amount);
                                    else next.delete(p.id);
                                    setPicked(next);
                                  }}
                                />
                              </td>
                              <td>
                                <Link to={`/finance/payouts/${p.id}`}>{shortId(p.id)}</Link>
                              </td>
                              <td class="num">{money(p.amount)}</td>
                              <td class="fin-wrap">{p.payee.kind === "wechat_balance" ? "微信零钱" : `${p.payee.bank ?? ""} ${p.payee.account_masked ?? ""}`}</td>
                              <td class="fin-wrap">
                                <OrgName id={p.org_id} />
                              </td>
                              <td>{dateTime(p.created_at)}</td>
                              <td class="fin-wrap">{blocked ? p.blockers.map((b) => BLOCKER[b] ?? b).join("；") : "可制单"}</td>
                            </tr>
                          );
                        })}
                      </tbody>
                    </table>
                  </div>
                )
              }
            </Loader>
            <Pager {...candidates} />
            <p aria-live="polite">
              已选 {picked.size} 笔，合计 {money(yuan(pickedFen))}
            </p>
            {errors.picked && (
              <p class="field-error" role="alert">
                {errors.picked}
              </p>
            )}
          </section>
        )}
        <ProblemAlert problem={build.problem} />
        {build.problem?.errors !== undefined && <UnfitList errors={build.problem.errors} />}
        <div class="row">
          <button type="submit" disabled={build.pending}>
            {build.pending ? "正在建立…" : "建立批次"}
          </button>
        </div>
      </form>
    </>
  );
}

/** `batch.payouts_unfit`: each payout with its code and detail. */
function UnfitList({ errors }: { errors: unknown }) {
  if (!Array.isArray(errors)) return null;
  const rows = errors.filter(
    (e): e is { payout_id?: string; code?: string; detail?: string } => typeof e === "object" && e !== null,
  );
  if (rows.length === 0) return null;
  return (
    <ul>
      {rows.map((e, i) => (
        <li key={i}>
          {e.payout_id ? `支付 ${shortId(e.payout_id)}：` : ""}
          {e.detail ?? e.code}
        </li>
      ))}
    </ul>
  );
}

export function BatchPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const batch = useLoad(() => call(() => api.GET("/api/v1/finance/payout-batches/{id}", { params: { path: { id } } })), [id]);
  const payouts = usePages(
    (cursor) => call(() => api.GET("/api/v1/finance/payouts", { params: { query: { batch_id: id, cursor, limit: 25 } } })),
    [id],
  );
  const [dialog, setDialog] = useState<"approve" | "file" | null>(null);
  const reload = () => {
    batch.reload();
    payouts.reload();
  };
  return (
    <>
      <PageTitle title={`支付批次 ${shortId(id)}`}>
        <button type="button" class="secondary" disabled={batch.loading} onClick={reload}>
          刷新
        </button>
        <Link to="/finance/batches" class="button secondary">
          返回支付批次
        </Link>
      </PageTitle>
      <Loader loaded={batch}>
        {(b) => (
          <>
            <div class="grid2">
              <section class="panel fin-panel" aria-labelledby="fin-batch-facts">
                <h2 id="fin-batch-facts">批次</h2>
                <dl class="facts">
                  <dt>状态</dt>
                  <dd>
                    <BatchBadge batch={b} />
                  </dd>
                  <dt>渠道</dt>
                  <dd>{channelText(b.channel)}</dd>
                  <dt>笔数</dt>
                  <dd>{b.payouts} 笔</dd>
                  <dt>合计</dt>
                  <dd>
                    <strong>{money(b.total)}</strong>
                  </dd>
                  <dt>工会</dt>
                  <dd>
                    <OrgName id={b.org_id} />
                  </dd>
                  <dt>制单</dt>
                  <dd>
                    {who(b.created_by)}，{dateTime(b.created_at)}
                  </dd>
                  <dt>审批</dt>
                  <dd>{b.approved_by ? `${who(b.approved_by)}，${dateTime(b.approved_at)}` : "尚未审批"}</dd>
                  {b.channel === "bank" && (
                    <>
                      <dt>银行文件</dt>
                      <dd>{b.file_taken_at ? `${who(b.file_taken_by)}于 ${dateTime(b.file_taken_at)} 导出` : "尚未导出"}</dd>
                      <dt>银行结果</dt>
                      <dd>{b.results_imported_at ? `${dateTime(b.results_imported_at)} 导入` : "尚未导入"}</dd>
                    </>
                  )}
                </dl>
              </section>
              <section class="panel fin-panel" aria-labelledby="fin-batch-sums">
                <h2 id="fin-batch-sums">各状态合计</h2>
                {b.by_status.length === 0 ? (
                  <p class="muted">没有支付。</p>
                ) : (
                  <div class="table-wrap">
                    <table>
                      <thead>
                        <tr>
                          <th scope="col">状态</th>
                          <th scope="col" class="num">笔数</th>
                          <th scope="col" class="num">金额</th>
                        </tr>
                      </thead>
                      <tbody>
                        {b.by_status.map((s) => (
                          <tr key={s.status}>
                            <td>
                              <PayoutBadge status={s.status} text={PAYOUT_STATUS[s.status][0]} />
                            </td>
                            <td class="num">{s.count}</td>
                            <td class="num">{money(s.amount)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </section>
            </div>
            <BatchActions batch={b} onApprove={() => setDialog("approve")} onFile={() => setDialog("file")} onImported={reload} />
            {dialog === "approve" && (
              <ApproveDialog
                batch={b}
                onClose={() => setDialog(null)}
                onDone={() => {
                  setDialog(null);
                  reload();
                }}
              />
            )}
            {dialog === "file" && (
              <BankFileDialog
                batch={b}
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
      <section aria-labelledby="fin-batch-payouts">
        <h2 id="fin-batch-payouts">批次中的支付</h2>
        <Loader loaded={payouts}>
          {() => (payouts.items.length === 0 ? <Empty>批次中没有支付。</Empty> : <PayoutTable items={payouts.items} inBatch />)}
        </Loader>
        <Pager {...payouts} />
      </section>
    </>
  );
}

function BatchActions({
  batch: b,
  onApprove,
  onFile,
  onImported,
}: {
  batch: BatchView;
  onApprove: () => void;
  onFile: () => void;
  onImported: () => void;
}) {
  const mine = b.created_by === session.user()?.id;
  if (b.status === "draft") {
    return (
      <section class="panel fin-panel" aria-labelledby="fin-batch-approve">
        <h2 id="fin-batch-approve">审批</h2>
        {mine ? (
          <p>这个批次由您制单，须由另一位财务审批人审批。</p>
        ) : (
          <>
            <p>
              {who(b.created_by)}制单的 {b.payouts} 笔、合计 {money(b.total)} 的{channelText(b.channel)}批次等待您审批。
              {b.channel === "wechat" ? "批准后立即向收款人发起微信转账。" : "批准后可导出银行文件。"}
            </p>
            <button type="button" onClick={onApprove}>
              审批批次
            </button>
          </>
        )}
      </section>
    );
  }
  if (b.channel !== "bank") {
    if (b.settled) return null;
    return (
      <p class="muted" role="status">
        转账已发起。收款人在微信中确认收款后，支付会变为已支付（可点“刷新”查看）。
      </p>
    );
  }
  return (
    <section class="panel fin-panel" aria-labelledby="fin-batch-bank">
      <h2 id="fin-batch-bank">银行文件</h2>
      {!b.file_taken_at ? (
        <>
          <p>银行转账文件只能导出一次（这是账号离开系统的唯一途径），请妥善保存后在网银中提交。</p>
          <button type="button" onClick={onFile}>
            导出银行文件
          </button>
        </>
      ) : (
        <BankResults batch={b} onImported={onImported} />
      )}
    </section>
  );
}

function ApproveDialog({ batch, onClose, onDone }: { batch: BatchView; onClose: () => void; onDone: () => void }) {
  const approve = useAction(() =>
    call(() => api.POST("/api/v1/finance/payout-batches/{id}/approve", { params: { path: { id: batch.id } } })),
  );
  return (
    <Dialog title="审批支付批次" onClose={onClose}>
      <dl class="facts">
        <dt>渠道</dt>
        <dd>{channelText(batch.channel)}</dd>
        <dt>笔数</dt>
        <dd>{batch.payouts} 笔</dd>
        <dt>合计</dt>
        <dd>
          <strong>{money(batch.total)}</strong>
        </dd>
        <dt>制单</dt>
        <dd>{who(batch.created_by)}</dd>
      </dl>
      <p>{batch.channel === "wechat" ? "批准后立即向每位收款人发起微信转账。" : "批准后可导出银行文件。"}</p>
      <ProblemAlert problem={approve.problem} />
      <DialogButtons
        onCancel={onClose}
        label="批准支付"
        pending={approve.pending}
        pendingLabel="正在审批…"
        onConfirm={async () => {
          const done = await approve.run();
          if (done) {
            notify(`已批准批次 ${shortId(done.id)}`);
            onDone();
          }
        }}
      />
    </Dialog>
  );
}

function BankFileDialog({ batch, onClose, onDone }: { batch: BatchView; onClose: () => void; onDone: () => void }) {
  const take = useAction(async () => {
    const blob = await fetchBlob(`/api/v1/finance/payout-batches/${encodeURIComponent(batch.id)}/bank-file`);
    saveBlob(blob, `银行转账-${shortId(batch.id)}.csv`);
    return true;
  });
  return (
    <Dialog title="导出银行文件" onClose={onClose}>
      <p>
        文件只能导出一次。导出后请立即保存，并在网银中提交；没能写入文件的支付（如户名无法用银行要求的编码写出）会标为失败并注明原因。
      </p>
      <ProblemAlert problem={take.problem} />
      <DialogButtons
        onCancel={onClose}
        label="导出并下载"
        pending={take.pending}
        pendingLabel="正在导出…"
        onConfirm={async () => {
          if (await take.run()) {
            notify("银行文件已导出");
            onDone();
          }
        }}
      />
    </Dialog>
  );
}

function BankResults({ batch, onImported }: { batch: BatchView; onImported: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [report, setReport] = useState<Schemas["BankImportReport"] | null>(null);
  const upload = useAction((f: File) =>
    call(() =>
      api.POST("/api/v1/finance/payout-batches/{id}/bank-results", {
        params: { path: { id: batch.id } },
        body: "",
        bodySerializer: () => f,
        headers: { "Content-Type": "text/csv" },
      }),
    ),
  );
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        if (!file) return;
        const r = await upload.run(file);
        if (r) {
          setReport(r);
          notify(`银行结果已导入：成功 ${r.paid} 笔，失败 ${r.failed} 笔`);
          onImported();
        }
      }}
    >
      <p>
        银行文件已于 {dateTime(batch.file_taken_at)} 导出。收到银行的处理结果后在此导入，每笔支付会标为已支付或失败；同一文件重复导入不会改变结果。
      </p>
      <Field label="银行结果文件" hint="按本工会的银行结果模板，最大 8 MB">
        {(p) => (
          <input {...p} type="file" accept=".csv,.txt,text/csv,text/plain" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
        )}
      </Field>
      <ProblemAlert problem={upload.problem} />
      <button type="submit" disabled={!file || upload.pending}>
        {upload.pending ? "正在导入…" : "导入银行结果"}
      </button>
      {report && (
        <div class="fin-report" role="status">
          <p>
            成功 {report.paid} 笔，失败 {report.failed} 笔，此前已处理 {report.unchanged} 笔。
          </p>
          {report.errors.length > 0 && (
            <div class="table-wrap">
              <table>
                <caption>未能导入的行</caption>
                <thead>
                  <tr>
                    <th scope="col">行</th>
                    <th scope="col">原因</th>
                  </tr>
                </thead>
                <tbody>
                  {report.errors.map((e) => (
                    <tr key={e.line}>
                      <td>{e.line}</td>
                      <td>{e.detail}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
    </form>
  );
}
