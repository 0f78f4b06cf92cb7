// The review queue: the claims waiting on staff in the reviewer's scope, oldest first, with
// the API's filters kept in the query string (a filtered view can be bookmarked or shared)
// and the API's cursor pages.
import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../../api/client";
import { Link, setQuery, useLocation } from "../../router";
import { session } from "../../session";
import { Badge, Empty, Field, Loader, PageTitle, Pager, dateTime, money, usePages, useLoad, value } from "../../ui";
import { INCIDENT, QUEUE_STATUSES, STATUS, toFen, waitingFor } from "./labels";
import { namesFor } from "./lookups";
import "./reviewer.css";

type QueueItem = Schemas["Page_QueueItem"]["items"][number];
type QueueStatus = (typeof QUEUE_STATUSES)[number];

const PAGE_SIZE = 20;

const WAITING_CHOICES: { hours: string; label: string }[] = [
  { hours: "24", label: "超过 24 小时" },
  { hours: "48", label: "超过 48 小时" },
  { hours: "72", label: "超过 3 天" },
  { hours: "168", label: "超过 7 天" },
];

interface Filters {
  status: string;
  plan_code: string;
  benefit_code: string;
  min_amount: string;
  max_amount: string;
  waiting_hours: string;
  mine: boolean;
}

function filtersOf(q: URLSearchParams): Filters {
  return {
    status: q.get("status") ?? "",
    plan_code: q.get("plan_code") ?? "",
    benefit_code: q.get("benefit_code") ?? "",
    min_amount: q.get("min_amount") ?? "",
    max_amount: q.get("max_amount") ?? "",
    waiting_hours: q.get("waiting_hours") ?? "",
    mine: q.get("mine") === "true",
  };
}

function isQueueStatus(s: string): s is QueueStatus {
  return (QUEUE_STATUSES as readonly string[]).includes(s);
}

/** The API's query from the filters in the URL (what it would refuse is left out). */
function queryOf(f: Filters, cursor: string | undefined) {
  const hours = /^\d{1,4}$/.test(f.waiting_hours) ? Number(f.waiting_hours) : undefined;
  return {
    status: isQueueStatus(f.status) ? f.status : undefined,
    plan_code: f.plan_code || undefined,
    benefit_code: f.benefit_code || undefined,
    min_amount: f.min_amount || undefined,
    max_amount: f.max_amount || undefined,
    waiting_hours: hours,
    mine: f.mine || undefined,
    cursor,
    limit: PAGE_SIZE,
  };
}

/** The queue's filters as last seen (this tab, across reloads), for the claim page's way back. */
const LAST_SEARCH = "gongyou.console.review.queue";
export function queueLink(): string {
  let search = "";
  try {
    search = sessionStorage.getItem(LAST_SEARCH) ?? "";
  } catch {
    search = "";
  }
  return `/review${search}`;
}

export function Queue() {
  const { query } = useLocation();
  const search = query.toString();
  useEffect(() => {
    try {
      sessionStorage.setItem(LAST_SEARCH, search ? `?${search}` : "");
    } catch {
      // Storage refused (private mode): the way back is the plain queue.
    }
  }, [search]);
  const applied = filtersOf(query);
  const key = JSON.stringify(applied);
  const pages = usePages(
    (cursor) => call(() => api.GET("/api/v1/review/claims", { params: { query: queryOf(applied, cursor) } })),
    [key],
  );
  const items = pages.items;
  // Names for the codes and ids on this page (orgs and plans, fetched once per tab).
  const names = useLoad(
    () => namesFor(items.map((i) => i.org_id), [...items.map((i) => i.plan_code), ...(applied.plan_code ? [applied.plan_code] : [])]),
    [items.map((i) => i.id).join(","), applied.plan_code],
  );
  const filtered = Object.entries(applied).some(([, v]) => v !== "" && v !== false);
  const me = session.user()?.id;

  return (
    <>
      <PageTitle title="审核队列">
        <button type="button" class="secondary" onClick={pages.reload} disabled={pages.loading}>
          刷新
        </button>
      </PageTitle>
      <p class="muted">
        您负责范围内等待处理的理赔申请，等待最久的排在最前。打开一件申请查看材料、开始审核并作出决定。
      </p>
      <FilterForm applied={applied} benefits={names.data?.benefits} plans={names.data?.plans} />
      <Loader loaded={pages}>
        {() =>
          items.length === 0 ? (
            <Empty>{filtered ? "没有符合筛选条件的理赔申请。" : "队列是空的：目前没有等待审核的理赔申请。"}</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table class="rv-queue">
                  <caption>
                    第 {pages.page} 页，本页 {items.length} 件{pages.hasNext ? "，还有下一页" : ""}
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">保障项目</th>
                      <th scope="col">申请人所属工会</th>
                      <th scope="col">出险</th>
                      <th scope="col" class="num">
                        计算金额
                      </th>
                      <th scope="col">已等待</th>
                      <th scope="col">状态</th>
                      <th scope="col">审核人</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((c) => (
                      <Row key={c.id} c={c} me={me} names={names.data} />
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

function Row({
  c,
  me,
  names,
}: {
  c: QueueItem;
  me: string | undefined;
  names: { orgs: Map<string, string>; benefits: Map<string, string>; plans: Map<string, string> } | undefined;
}) {
  const status = STATUS[c.status];
  const benefit = names?.benefits.get(`${c.plan_code}/${c.benefit_code}`) ?? c.benefit_code;
  const plan = names?.plans.get(c.plan_code) ?? c.plan_code;
  return (
    <tr>
      <td>
        <Link to={`/review/claims/${encodeURIComponent(c.id)}`} class="rv-claim-link">
          {benefit}
        </Link>
        <div class="muted small">{plan}</div>
      </td>
      <td>{names?.orgs.get(c.org_id) ?? <span class="muted">—</span>}</td>
      <td>
        {INCIDENT[c.incident_type]}
        <div class="muted small">{c.occurred_on}</div>
      </td>
      <td class="num">{money(c.amount)}</td>
      <td>
        {waitingFor(c.waiting_since)}
        <div class="muted small">自 {dateTime(c.waiting_since)}</div>
      </td>
      <td>
        <Badge tone={status.tone}>{status.text}</Badge>
      </td>
      <td>{c.assigned_to ? c.assigned_to === me ? "我" : "其他审核员" : <span class="muted">未分配</span>}</td>
    </tr>
  );
}

function FilterForm({
  applied,
  benefits,
  plans,
}: {
  applied: Filters;
  benefits: Map<string, string> | undefined;
  plans: Map<string, string> | undefined;
}) {
  const [f, setF] = useState<Filters>(applied);
  const appliedKey = JSON.stringify(applied);
  // Back/forward (or a link) changes the URL: the form follows it.
  useEffect(() => setF(applied), [appliedKey]);
  const set = (patch: Partial<Filters>) => setF({ ...f, ...patch });

  const minError = f.min_amount && toFen(f.min_amount) === null ? "请填写金额（元），最多两位小数" : undefined;
  const maxError =
    f.max_amount && toFen(f.max_amount) === null
      ? "请填写金额（元），最多两位小数"
      : f.min_amount && f.max_amount && (toFen(f.min_amount) ?? 0) > (toFen(f.max_amount) ?? 0)
        ? "最高金额不能低于最低金额"
        : undefined;

  // Benefits of the plans seen (code → name), for the benefit filter.
  const benefitOptions = new Map<string, string>();
  for (const [k, name] of benefits ?? []) {
    const [planCode, code] = k.split("/");
    if (!code) continue;
    if (f.plan_code && planCode !== f.plan_code) continue;
    if (!benefitOptions.has(code)) benefitOptions.set(code, name);
  }
  if (f.benefit_code && !benefitOptions.has(f.benefit_code)) benefitOptions.set(f.benefit_code, f.benefit_code);

  const apply = (next: Filters) =>
    setQuery({
      status: next.status,
      plan_code: next.plan_code.trim(),
      benefit_code: next.benefit_code,
      min_amount: next.min_amount.trim(),
      max_amount: next.max_amount.trim(),
      waiting_hours: next.waiting_hours,
      mine: next.mine ? "true" : "",
    });

  return (
    <form
      class="panel rv-filters"
      role="search"
      aria-label="筛选理赔申请"
      onSubmit={(e) => {
        e.preventDefault();
        if (minError || maxError) return;
        apply(f);
      }}
    >
      <div class="filters">
        <Field label="状态">
          {(p) => (
            <select {...p} value={f.status} onChange={(e) => set({ status: value(e) })}>
              <option value="">全部等待中的</option>
              {QUEUE_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {STATUS[s].text}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="保障计划代码">
          {(p) => (
            <>
              <input
                {...p}
                list="rv-plan-codes"
                value={f.plan_code}
                maxLength={32}
                autoComplete="off"
                onInput={(e) => set({ plan_code: value(e), benefit_code: "" })}
              />
              <datalist id="rv-plan-codes">
                {[...(plans ?? [])].map(([code, name]) => (
                  <option key={code} value={code}>
                    {name}
                  </option>
                ))}
              </datalist>
            </>
          )}
        </Field>
        <Field label="保障项目">
          {(p) => (
            <select {...p} value={f.benefit_code} onChange={(e) => set({ benefit_code: value(e) })}>
              <option value="">全部</option>
              {[...benefitOptions].map(([code, name]) => (
                <option key={code} value={code}>
                  {name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="最低金额（元）" error={minError}>
          {(p) => (
            <input
              {...p}
              class="rv-amount"
              inputMode="decimal"
              value={f.min_amount}
              onInput={(e) => set({ min_amount: value(e) })}
            />
          )}
        </Field>
        <Field label="最高金额（元）" error={maxError}>
          {(p) => (
            <input
              {...p}
              class="rv-amount"
              inputMode="decimal"
              value={f.max_amount}
              onInput={(e) => set({ max_amount: value(e) })}
            />
          )}
        </Field>
        <Field label="已等待">
          {(p) => (
            <select {...p} value={f.waiting_hours} onChange={(e) => set({ waiting_hours: value(e) })}>
              <option value="">不限</option>
              {WAITING_CHOICES.map((w) => (
                <option key={w.hours} value={w.hours}>
                  {w.label}
                </option>
              ))}
              {f.waiting_hours && !WAITING_CHOICES.some((w) => w.hours === f.waiting_hours) && (
                <option value={f.waiting_hours}>超过 {f.waiting_hours} 小时</option>
              )}
            </select>
          )}
        </Field>
      </div>
      <div class="row">
        <label class="check">
          <input type="checkbox" checked={f.mine} onChange={(e) => set({ mine: e.currentTarget.checked })} />
          只看由我审核的
        </label>
        <button type="submit">筛选</button>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            const none: Filters = {
              status: "",
              plan_code: "",
              benefit_code: "",
              min_amount: "",
              max_amount: "",
              waiting_hours: "",
              mine: false,
            };
            setF(none);
            apply(none);
          }}
        >
          清除筛选
        </button>
      </div>
    </form>
  );
}
