// 我的驿站: every station the signed-in manager keeps (the API answers them all at once).
import { useState } from "preact/hooks";
import { api, call } from "../../api/client";
import { Link } from "../../router";
import { Badge, Empty, Field, Loader, PageTitle, useLoad, value } from "../../ui";
import { spansText, statusLabel, statusTone, typeLabel, type Station } from "./labels";
import "./manager.css";

export function StationsList() {
  const loaded = useLoad(() => call(() => api.GET("/api/v1/me/stations")), []);
  const [filter, setFilter] = useState("");
  return (
    <>
      <PageTitle title="我的驿站">
        <Link to="/stations/verify-card" class="button secondary">
          核验会员卡
        </Link>
      </PageTitle>
      <Loader loaded={loaded}>
        {(data) => {
          const q = filter.trim();
          const items = q ? data.items.filter((s) => s.name.includes(q) || s.address.includes(q)) : data.items;
          if (data.items.length === 0) return <Empty>您还没有负责的驿站。请联系工会管理员分配。</Empty>;
          return (
            <>
              <p class="muted">
                您负责 {data.items.length} 个驿站；其中 {data.items.filter((s) => s.open_now).length} 个现在营业。
              </p>
              {data.items.length > 5 && (
                <div class="filters">
                  <Field label="按名称或地址筛选">
                    {(p) => <input {...p} type="search" value={filter} onInput={(e) => setFilter(value(e))} />}
                  </Field>
                </div>
              )}
              {items.length === 0 ? (
                <Empty>没有名称或地址包含“{q}”的驿站。</Empty>
              ) : (
                <div class="table-wrap">
                  <table>
                    <caption>我负责的驿站（{items.length} 个）</caption>
                    <thead>
                      <tr>
                        <th scope="col">驿站</th>
                        <th scope="col">类型</th>
                        <th scope="col">状态</th>
                        <th scope="col">现在</th>
                        <th scope="col">今日开放时段</th>
                        <th scope="col">待处理反馈</th>
                        <th scope="col">地址</th>
                      </tr>
                    </thead>
                    <tbody>
                      {items.map((s) => (
                        <StationRow key={s.id} s={s} />
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          );
        }}
      </Loader>
    </>
  );
}

function StationRow({ s }: { s: Station }) {
  return (
    <tr>
      <th scope="row" class="mgr-rowhead">
        <Link to={`/stations/${encodeURIComponent(s.id)}`}>{s.name}</Link>
        {s.notice && <div class="muted small">公告：{s.notice}</div>}
      </th>
      <td class="mgr-nowrap">{typeLabel(s.type)}</td>
      <td>
        <Badge tone={statusTone(s.status)}>{statusLabel(s.status)}</Badge>
      </td>
      <td>{s.open_now ? <Badge tone="good">营业中</Badge> : <Badge>未营业</Badge>}</td>
      <td>{s.status === "open" ? spansText(s.today_hours) : "—"}</td>
      <td>
        <OpenReports id={s.id} />
      </td>
      <td>
        {s.address}
        <div class="muted small">{s.region_name}</div>
      </td>
    </tr>
  );
}

/** How many reports wait at a station (the first page of open ones: 50, or "50+"). */
function OpenReports({ id }: { id: string }) {
  const open = useLoad(
    () => call(() => api.GET("/api/v1/stations/{id}/reports", { params: { path: { id }, query: { status: "open", limit: 50 } } })),
    [id],
  );
  if (open.problem) return <span class="muted small">（{open.problem.detail}）</span>;
  if (!open.data) return <span class="muted small">…</span>;
  const n = open.data.items.length;
  if (n === 0) return <span class="muted">无</span>;
  return (
    <Link to={`/stations/${encodeURIComponent(id)}#mgr-reports`}>
      <Badge tone="warn">
        {n}
        {open.data.next_cursor ? "+" : ""} 条待处理
      </Badge>
    </Link>
  );
}
