// Campaigns (群发通知): a notice to the active members of an org's subtree. The API keeps
// no list of campaigns, so the list is the campaigns sent from this browser, plus a look-up
// by id; a campaign's page shows its progress, polled while it is being written.
import { useEffect, useState } from "preact/hooks";
import { api, call } from "../../../api/client";
import { Link, navigate } from "../../../router";
import { Dialog, DialogButtons, Empty, Field, Loader, Pager, PageTitle, ProblemAlert, dateTime, notify, useAction, useIdempotent, useLoad, usePages, value } from "../../../ui";
import { CampaignStatusBadge, DELIVERY_STATUS, OCCUPATION, Stat, type CampaignView, type Occupation } from "./common";
import { OrgPicker } from "./OrgPicker";

const POLL_MS = 2000;
const TEXT = /^(?:[^\u0000-\u001f\u007f-\u009f]|\n)*[^\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]|\n)*$/;

function count(m: Record<string, number>, ...keys: string[]): number {
  return keys.reduce((n, k) => n + (m[k] ?? 0), 0);
}

function total(m: Record<string, number>): number {
  return Object.entries(m)
    .filter(([k]) => k !== "batches_waiting")
    .reduce((n, [, v]) => n + v, 0);
}

export function CampaignList() {
  const pages = usePages(
    (cursor) => call(() => api.GET("/api/v1/admin/campaigns", { params: { query: { cursor, limit: 20 } } })),
    [],
  );
  return (
    <>
      <PageTitle title="群发通知">
        <Link to="/admin/campaigns/new" class="button">
          发送通知
        </Link>
      </PageTitle>
      {pages.data && pages.items.length === 0 && !pages.hasPrevious ? (
        <Empty>您管辖范围内还没有发送过通知。</Empty>
      ) : (
        <Loader loaded={pages}>
          {() => (
            <>
              <div class="table-wrap">
                <table>
                  <caption>您管辖范围内的通知，最新的在前</caption>
                  <thead>
                    <tr>
                      <th scope="col">标题</th>
                      <th scope="col">发送范围</th>
                      <th scope="col">状态</th>
                      <th scope="col" class="num">
                        收件人
                      </th>
                      <th scope="col" class="num">
                        推送已发送
                      </th>
                      <th scope="col" class="num">
                        推送失败
                      </th>
                      <th scope="col">创建时间</th>
                    </tr>
                  </thead>
                  <tbody>
                    {pages.items.map((c) => (
                      <tr key={c.id}>
                        <td>
                          <Link to={`/admin/campaigns/${encodeURIComponent(c.id)}`}>{c.title}</Link>
                        </td>
                        <td>
                          {c.org.name}
                          {c.occupation && <div class="muted small">{OCCUPATION[c.occupation as Occupation] ?? c.occupation}</div>}
                        </td>
                        <td>
                          <CampaignStatusBadge status={c.status} />
                        </td>
                        <td class="num">{c.recipients}</td>
                        <td class="num">{count(c.deliveries, "sent")}</td>
                        <td class="num">{count(c.deliveries, "failed", "dead")}</td>
                        <td>{dateTime(c.created_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager {...pages} />
            </>
          )}
        </Loader>
      )}
    </>
  );
}

const OCCUPATIONS = Object.keys(OCCUPATION) as Occupation[];

export function NewCampaign() {
  const [org, setOrg] = useState<string | undefined>(undefined);
  const [orgName, setOrgName] = useState<string | undefined>(undefined);
  const [occupation, setOccupation] = useState<Occupation | "">("");
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [confirming, setConfirming] = useState(false);
  const idempotent = useIdempotent();
  const send = useAction(() => {
    const notice = { org_id: org ?? "", title, body, occupation: occupation || null };
    return idempotent(notice, (key) =>
      call(() => api.POST("/api/v1/admin/campaigns", { params: { header: { "Idempotency-Key": key } }, body: notice })),
    );
  });
  const apiField =
    send.problem?.code === "campaign.invalid_title"
      ? "title"
      : send.problem?.code === "campaign.invalid_body"
        ? "body"
        : send.problem?.code === "campaign.unknown_org"
          ? "org"
          : undefined;
  const err = (k: string) => errors[k] ?? (apiField === k ? send.problem?.detail : undefined);
  const check = () => {
    const e: Record<string, string> = {};
    if (!org) e.org = "请选择发送范围";
    if (title.length > 40 || !TEXT.test(title)) e.title = "标题须为 1 至 40 个字";
    if (body.length > 500 || !TEXT.test(body)) e.body = "内容须为 1 至 500 个字";
    setErrors(e);
    return Object.keys(e).length === 0;
  };
  const submit = async () => {
    const c = await send.run();
    if (!c) return;
    setConfirming(false);
    notify("通知已创建，正在写入会员收件箱");
    navigate(`/admin/campaigns/${encodeURIComponent(c.id)}`);
  };
  return (
    <>
      <PageTitle title="发送通知" />
      <p class="muted">通知发送给所选组织及其下属工会的全部在会会员（App 收件箱与推送；已订阅的会员另收微信服务通知）。发出后不能撤回。</p>
      <form
        class="panel ops-form-narrow"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          send.clear();
          if (check()) setConfirming(true);
        }}
      >
        <OrgPicker
          label="发送范围"
          error={err("org")}
          onChange={(id, name) => {
            setOrg(id);
            setOrgName(name);
          }}
        />
        <Field label="职业（可选）" hint="只发给这一职业的会员">
          {(p) => (
            <select {...p} value={occupation} onChange={(e) => setOccupation(value(e) as Occupation | "")}>
              <option value="">不限</option>
              {OCCUPATIONS.map((o) => (
                <option key={o} value={o}>
                  {OCCUPATION[o]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="标题" hint={`最多 40 个字（已输入 ${title.length} 个）`} error={err("title")}>
          {(p) => <input {...p} required maxLength={40} value={title} onInput={(e) => setTitle(value(e))} />}
        </Field>
        <Field label="内容" hint={`最多 500 个字（已输入 ${body.length} 个）`} error={err("body")}>
          {(p) => <textarea {...p} required rows={6} maxLength={500} value={body} onInput={(e) => setBody(value(e))} />}
        </Field>
        {!confirming && <ProblemAlert problem={send.problem} />}
        <div class="row">
          <button type="submit">发送…</button>
          <Link to="/admin/campaigns">取消</Link>
        </div>
      </form>
      {confirming && (
        <Dialog title="确认发送通知？" onClose={() => setConfirming(false)}>
          <p>
            “{title}”将发送给{orgName ?? "所选组织"}及其下属工会的{occupation ? OCCUPATION[occupation] : "全部"}在会会员，发出后不能撤回。
          </p>
          <ProblemAlert problem={send.problem} />
          <DialogButtons onCancel={() => setConfirming(false)} label="确认发送" pending={send.pending} pendingLabel="正在发送…" onConfirm={() => void submit()} />
        </Dialog>
      )}
    </>
  );
}

function Counts({ title, counts, none }: { title: string; counts: Record<string, number>; none: string }) {
  const entries = Object.entries(counts);
  return (
    <>
      <h3>{title}</h3>
      {entries.length === 0 ? (
        <p class="muted">{none}</p>
      ) : (
        <div class="table-wrap ops-narrow">
          <table>
            <thead>
              <tr>
                <th scope="col">状态</th>
                <th scope="col" class="num">
                  数量
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map(([k, v]) => (
                <tr key={k}>
                  <td>
                    {DELIVERY_STATUS[k] ?? k} <span class="muted small">（{k}）</span>
                  </td>
                  <td class="num">{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function CampaignPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const loaded = useLoad(() => call(() => api.GET("/api/v1/admin/campaigns/{id}", { params: { path: { id } } })), [id]);
  const c: CampaignView | undefined = loaded.data;
  // Polls while members are being written or pushes are still pending.
  const busy = c ? c.status !== "sent" || count(c.deliveries, "pending", "sending") > 0 : false;
  useEffect(() => {
    if (!c || !busy || loaded.loading) return;
    const timer = setTimeout(loaded.reload, POLL_MS);
    return () => clearTimeout(timer);
  }, [c, busy, loaded.loading, loaded.reload]);
  return (
    <>
      <PageTitle title={c ? `通知：${c.title}` : "通知"} />
      <p>
        <Link to="/admin/campaigns">← 群发通知</Link>
      </p>
      <Loader loaded={loaded}>
        {(c) => {
          const pushes = total(c.deliveries);
          const done = count(c.deliveries, "sent", "skipped", "failed", "dead");
          return (
            <>
              <section class="panel ops-section" aria-labelledby="ops-campaign">
                <div class="ops-head">
                  <h2 id="ops-campaign">进度</h2>
                  <CampaignStatusBadge status={c.status} />
                </div>
                <progress class="ops-progress" max={Math.max(1, pushes)} value={done} aria-labelledby="ops-campaign-text" />
                <p id="ops-campaign-text" role="status" aria-live="polite">
                  {c.status === "sent" ? "已写入全部收件人的收件箱" : "正在写入收件箱"}：收件人 {c.recipients} 人；推送已处理 {done} / {pushes}
                  {busy ? "（自动刷新中）" : ""}
                </p>
                <dl class="ops-stats">
                  <Stat label="收件人">{c.recipients}</Stat>
                  <Stat label="推送已发送">{count(c.deliveries, "sent")}</Stat>
                  <Stat label="推送失败">{count(c.deliveries, "failed", "dead")}</Stat>
                  <Stat label="微信通知已发送">{count(c.subscribe_messages, "sent")}</Stat>
                </dl>
                <dl class="facts ops-facts">
                  <dt>通知编号</dt>
                  <dd>
                    <code>{c.id}</code>
                  </dd>
                  <dt>发送范围</dt>
                  <dd>
                    {c.org.name}
                    {c.occupation ? `（${OCCUPATION[c.occupation as Occupation] ?? c.occupation}）` : "（全部职业）"}
                  </dd>
                  <dt>创建时间</dt>
                  <dd>{dateTime(c.created_at)}</dd>
                  <dt>写入完成</dt>
                  <dd>{dateTime(c.completed_at)}</dd>
                </dl>
              </section>
              <section class="panel ops-section" aria-labelledby="ops-campaign-body">
                <h2 id="ops-campaign-body">内容</h2>
                <p class="ops-pre">{c.body}</p>
              </section>
              <section class="panel ops-section" aria-labelledby="ops-campaign-deliveries">
                <h2 id="ops-campaign-deliveries">投递明细</h2>
                <div class="grid2">
                  <div>
                    <Counts title="App 推送" counts={c.deliveries} none="暂无推送。" />
                  </div>
                  <div>
                    <Counts title="微信服务通知" counts={c.subscribe_messages} none="暂无（未配置微信服务通知，或还没有会员订阅）。" />
                  </div>
                </div>
              </section>
            </>
          );
        }}
      </Loader>
    </>
  );
}
