// Background jobs (national union admins): dead jobs by default, or any status; a dead or
// failed job can be sent back to run now with a fresh set of attempts.
import { useState } from "preact/hooks";
import { api, call } from "../../../api/client";
import { setQuery, useLocation } from "../../../router";
import { Empty, Field, Loader, PageTitle, Pager, ProblemAlert, dateTime, notify, useAction, usePages, value } from "../../../ui";
import { JOB_STATUS, JobStatusBadge, type JobStatus, type JobView } from "./common";

const STATUSES = Object.keys(JOB_STATUS) as JobStatus[];

/** What each kind of job does, for operators who do not read the code. */
const JOB_NAME: Record<string, string> = {
  "campaigns.fan_out": "群发通知：写入收件箱",
  claim_reminders: "理赔提醒",
  housekeeping: "例行清理",
  "membership.auto_approve": "入会申请自动批准",
  "notifications.dispatch": "通知发送",
  "payouts.check": "打款结果查询",
  "payouts.send": "打款发送",
  "plans.roster_import": "名单导入",
  "reconcile.daily": "每日对账",
  "reconcile.run": "对账",
  rotate_data_key: "数据密钥轮换",
};

function isJobStatus(s: string): s is JobStatus {
  return (STATUSES as string[]).includes(s);
}

export function Jobs() {
  const { query } = useLocation();
  const raw = query.get("status") ?? "dead";
  const status: JobStatus = isJobStatus(raw) ? raw : "dead";
  const pages = usePages(
    (cursor) => call(() => api.GET("/api/v1/admin/jobs", { params: { query: { status, limit: 50, ...(cursor ? { cursor } : {}) } } })),
    [status],
  );
  const [retried, setRetried] = useState<string | undefined>(undefined);
  const retry = useAction((job: JobView) => call(() => api.POST("/api/v1/admin/jobs/{id}/retry", { params: { path: { id: job.id } } })));
  return (
    <>
      <PageTitle title="后台任务" />
      <p class="muted">
        后台任务失败后会自动重试；用完重试次数或被判定无法完成的任务为“已放弃”，需要人工处理。排除原因后可以重新运行。
      </p>
      <div class="filters">
        <Field label="任务状态">
          {(p) => (
            <select {...p} value={status} onChange={(e) => setQuery({ status: value(e) === "dead" ? undefined : value(e) })}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {JOB_STATUS[s]}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <ProblemAlert problem={retry.problem} />
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>{status === "dead" ? "没有已放弃的任务。" : `没有“${JOB_STATUS[status]}”的任务。`}</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">任务</th>
                      <th scope="col">状态</th>
                      <th scope="col" class="num">
                        尝试次数
                      </th>
                      <th scope="col">最近错误</th>
                      <th scope="col">创建时间</th>
                      <th scope="col">计划运行 / 结束</th>
                      <th scope="col">操作</th>
                    </tr>
                  </thead>
                  <tbody>
                    {pages.items.map((j) => (
                      <tr key={j.id}>
                        <td>
                          {JOB_NAME[j.name] ?? j.name}
                          <div class="muted small">
                            <code>{j.name}</code> · 队列 {j.queue}
                          </div>
                        </td>
                        <td>
                          <JobStatusBadge status={j.status} />
                        </td>
                        <td class="num">
                          {j.attempts} / {j.max_attempts}
                        </td>
                        <td class="ops-error-text">{j.last_error ?? "—"}</td>
                        <td>{dateTime(j.created_at)}</td>
                        <td>
                          {dateTime(j.run_at)}
                          {j.finished_at && <div class="muted small">结束 {dateTime(j.finished_at)}</div>}
                        </td>
                        <td>
                          {(j.status === "dead" || j.status === "failed") &&
                            (retried === j.id ? (
                              <span>已重新排队</span>
                            ) : (
                              <button
                                type="button"
                                class="secondary"
                                disabled={retry.pending}
                                aria-label={`重新运行 ${JOB_NAME[j.name] ?? j.name}（${j.id}）`}
                                onClick={() =>
                                  void retry.run(j).then((r) => {
                                    if (!r) return;
                                    setRetried(j.id);
                                    notify("任务已重新排队，将立即运行");
                                  })
                                }
                              >
                                重新运行
                              </button>
                            ))}
                        </td>
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
