// Workers' reports about a station (closed when it should be open, a missing amenity…),
// newest first, page by page; the manager resolves each with what was done.
import { useState } from "preact/hooks";
import { api, call, type Schemas } from "../../api/client";
import { Badge, Dialog, DialogButtons, Empty, Field, Loader, Pager, ProblemAlert, dateTime, notify, useAction, usePages, value } from "../../ui";
import { reportKindLabel } from "./labels";

type Report = Schemas["ReportView"];
type Filter = "open" | "resolved" | "all";

export function Reports({ stationId }: { stationId: string }) {
  const [filter, setFilter] = useState<Filter>("open");
  const [resolving, setResolving] = useState<Report | null>(null);
  const pages = usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/stations/{id}/reports", {
          params: {
            path: { id: stationId },
            query: { cursor, limit: 20, ...(filter === "all" ? {} : { status: filter }) },
          },
        }),
      ),
    [stationId, filter],
  );
  return (
    <section class="panel" id="mgr-reports" aria-labelledby="mgr-reports-h">
      <h2 id="mgr-reports-h">问题反馈</h2>
      <div class="filters">
        <Field label="显示">
          {(p) => (
            <select {...p} value={filter} onChange={(e) => setFilter((value(e) as Filter) || "open")}>
              <option value="open">待处理</option>
              <option value="resolved">已处理</option>
              <option value="all">全部</option>
            </select>
          )}
        </Field>
      </div>
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>{filter === "open" ? "没有待处理的问题反馈。" : "没有问题反馈。"}</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption>工友反馈的问题（新的在前）</caption>
                <thead>
                  <tr>
                    <th scope="col">反馈时间</th>
                    <th scope="col">问题</th>
                    <th scope="col">工友说明</th>
                    <th scope="col">状态</th>
                    <th scope="col">处理情况</th>
                    <th scope="col">操作</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((r) => (
                    <tr key={r.id}>
                      <td>{dateTime(r.created_at)}</td>
                      <td>{reportKindLabel(r.kind)}</td>
                      <td>{r.note || <span class="muted">—</span>}</td>
                      <td>{r.status === "resolved" ? <Badge tone="good">已处理</Badge> : <Badge tone="warn">待处理</Badge>}</td>
                      <td>
                        {r.status === "resolved" ? (
                          <>
                            {r.resolution || <span class="muted">（未填写说明）</span>}
                            <div class="muted small">{dateTime(r.resolved_at)}</div>
                          </>
                        ) : (
                          "—"
                        )}
                      </td>
                      <td>
                        {r.status === "open" && (
                          <button type="button" class="secondary" onClick={() => setResolving(r)}>
                            处理<span class="mgr-sr">{reportKindLabel(r.kind)} {dateTime(r.created_at)}</span>
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
      <Pager {...pages} />
      {resolving && (
        <ResolveDialog
          stationId={stationId}
          report={resolving}
          onClose={() => setResolving(null)}
          onDone={() => {
            setResolving(null);
            pages.reload();
          }}
        />
      )}
    </section>
  );
}

function ResolveDialog({
  stationId,
  report,
  onClose,
  onDone,
}: {
  stationId: string;
  report: Report;
  onClose: () => void;
  onDone: () => void;
}) {
  const [resolution, setResolution] = useState("");
  const resolve = useAction(async () => {
    await call(() =>
      api.POST("/api/v1/stations/{id}/reports/{report_id}/resolve", {
        params: { path: { id: stationId, report_id: report.id } },
        body: resolution.trim() ? { resolution: resolution.trim() } : {},
      }),
    );
    notify("已标记为已处理");
    onDone();
  });
  return (
    <Dialog title="处理问题反馈" onClose={onClose}>
      <dl class="facts">
        <dt>问题</dt>
        <dd>{reportKindLabel(report.kind)}</dd>
        <dt>反馈时间</dt>
        <dd>{dateTime(report.created_at)}</dd>
        <dt>工友说明</dt>
        <dd>{report.note || "—"}</dd>
      </dl>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!resolve.pending) void resolve.run();
        }}
      >
        <Field label="处理说明" hint={`选填，最多 500 字（${resolution.length}/500）。`}>
          {(p) => <textarea {...p} rows={3} maxLength={500} value={resolution} onInput={(e) => setResolution(value(e))} />}
        </Field>
        <ProblemAlert problem={resolve.problem} />
        <DialogButtons onCancel={onClose} label="标记为已处理" pending={resolve.pending} />
      </form>
    </Dialog>
  );
}
