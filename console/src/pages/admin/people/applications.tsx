// Membership applications: the queue (by status), identity-conflict reviews (applications
// whose ID number another account already holds), and one application with its decision.
import { useState } from "preact/hooks";
import { api, call } from "../../../api/client";
import { Link, setQuery, useLocation } from "../../../router";
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
  dateTime,
  notify,
  useAction,
  useLoad,
  usePages,
  value,
} from "../../../ui";
import {
  APPLICATION_STATUS_OPTIONS,
  ApplicationStatus,
  Fact,
  OCCUPATIONS,
  PLATFORMS,
  ReasonDialog,
  SEXES,
  label,
  oneOf,
  type Application,
} from "./common";

const PAGE_SIZE = 20;

const REJECT_REASONS = [
  "申请信息与身份证件不一致，请核对后重新申请",
  "无法核实从业平台及工号，请补充后重新申请",
  "不属于本工会受理范围，请选择工作所在地区重新申请",
  "身份证号已被其他账号使用，请本人联系工会核实",
  "重复申请",
];

function ConflictBadge({ app }: { app: Application }) {
  if (!app.identity_conflict) return null;
  return <Badge tone="bad">身份冲突</Badge>;
}

function StatusFilter({ status }: { status: string }) {
  return (
    <form class="filters" role="search" aria-label="筛选申请" onSubmit={(e) => e.preventDefault()}>
      <Field label="状态">
        {(p) => (
          <select {...p} value={status} onChange={(e) => setQuery({ status: value(e) })}>
            {APPLICATION_STATUS_OPTIONS.map(([code, text]) => (
              <option key={code} value={code}>
                {text}
              </option>
            ))}
            <option value="all">全部</option>
          </select>
        )}
      </Field>
    </form>
  );
}

function ApplicationTable({ items, caption }: { items: Application[]; caption: string }) {
  return (
    <div class="table-wrap">
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">申请人</th>
            <th scope="col">手机号</th>
            <th scope="col">身份证号</th>
            <th scope="col">职业 / 平台</th>
            <th scope="col">受理工会</th>
            <th scope="col">提交时间</th>
            <th scope="col">状态</th>
          </tr>
        </thead>
        <tbody>
          {items.map((a) => (
            <tr key={a.id}>
              <td>
                <Link to={`/admin/applications/${a.id}`}>{a.real_name}</Link>
              </td>
              <td>{a.phone}</td>
              <td>
                <code>{a.id_number ?? "—"}</code>
              </td>
              <td>
                {label(OCCUPATIONS, a.occupation)} / {label(PLATFORMS, a.platform)}
              </td>
              <td>{a.org.name}</td>
              <td>{dateTime(a.created_at)}</td>
              <td>
                <span class="row">
                  <ApplicationStatus status={a.status} />
                  <ConflictBadge app={a} />
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function useApplications(status: string, identityConflict: boolean) {
  const filter = oneOf(APPLICATION_STATUS_OPTIONS, status);
  return usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/admin/membership/applications", {
          params: {
            query: {
              status: filter,
              identity_conflict: identityConflict ? true : undefined,
              cursor,
              limit: PAGE_SIZE,
            },
          },
        }),
      ),
    [filter ?? "all", identityConflict],
  );
}

/** The queue: pending first (the default), any status on request. */
export function Applications() {
  const { query } = useLocation();
  const status = query.get("status") ?? "pending";
  const pages = useApplications(status, false);
  const statusText = APPLICATION_STATUS_OPTIONS.find(([c]) => c === status)?.[1] ?? "全部";
  return (
    <>
      <PageTitle title="入会申请">
        <Link to="/admin/conflicts" class="button secondary">
          身份冲突审核
        </Link>
      </PageTitle>
      <p class="muted">分配到您所辖工会的入会申请。打开申请核对信息后批准或拒绝；拒绝原因会告知申请人。</p>
      <StatusFilter status={status} />
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>没有{statusText === "全部" ? "" : `“${statusText}”的`}入会申请。</Empty>
          ) : (
            <ApplicationTable items={pages.items} caption={`入会申请（${statusText}）`} />
          )
        }
      </Loader>
      <Pager {...pages} />
    </>
  );
}

/** Identity-conflict reviews: the ID number is already held by another account. */
export function Conflicts() {
  const { query } = useLocation();
  const status = query.get("status") ?? "pending";
  const pages = useApplications(status, true);
  const statusText = APPLICATION_STATUS_OPTIONS.find(([c]) => c === status)?.[1] ?? "全部";
  return (
    <>
      <PageTitle title="身份冲突审核" />
      <p class="muted">
        这些申请填写的身份证号已被其他账号使用（可能是同一人换了手机号，也可能是冒用）。自动审批不会处理它们，需由管理员核实：
        确认是本人后批准（若该身份证号已有有效会籍，系统会拒绝批准，须先处理原会籍），否则拒绝并说明原因。
      </p>
      <StatusFilter status={status} />
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>没有{statusText === "全部" ? "" : `“${statusText}”的`}身份冲突申请。</Empty>
          ) : (
            <ApplicationTable items={pages.items} caption={`身份冲突申请（${statusText}）`} />
          )
        }
      </Loader>
      <Pager {...pages} />
    </>
  );
}

function ApproveDialog({ app, onClose, onDone }: { app: Application; onClose: () => void; onDone: () => void }) {
  const approve = useAction(async () => {
    const m = await call(() =>
      api.POST("/api/v1/admin/membership/applications/{id}/approve", { params: { path: { id: app.id } } }),
    );
    notify(`已批准 ${m.real_name} 入会，会员证号 ${m.card_number}`);
    onDone();
  });
  return (
    <Dialog title="批准入会" onClose={onClose}>
      <p>
        批准 <strong>{app.real_name}</strong> 加入 <strong>{app.org.name}</strong>？批准后系统将发放会员证号，并通知申请人。
      </p>
      {app.identity_conflict && (
        <p class="problem">该身份证号已被其他账号使用。请确认已核实申请人确为本人后再批准。</p>
      )}
      <ProblemAlert problem={approve.problem} />
      <DialogButtons onCancel={onClose} label="确认批准" pending={approve.pending} pendingLabel="正在批准…" onConfirm={() => void approve.run()} />
    </Dialog>
  );
}

/** One application: the applicant as the API gives it (masked), its checks, the decision. */
export function ApplicationPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const loaded = useLoad(
    () => call(() => api.GET("/api/v1/membership/applications/{id}", { params: { path: { id } } })),
    [id],
  );
  const [dialog, setDialog] = useState<"approve" | "reject" | null>(null);
  return (
    <>
      <p class="small">
        <Link to="/admin/applications">← 返回入会申请</Link>
      </p>
      <Loader loaded={loaded}>
        {(app) => (
          <>
            <PageTitle title={`入会申请：${app.real_name}`}>
              {app.status === "pending" && (
                <>
                  <button type="button" onClick={() => setDialog("approve")}>
                    批准入会
                  </button>
                  <button type="button" class="danger" onClick={() => setDialog("reject")}>
                    拒绝申请
                  </button>
                </>
              )}
            </PageTitle>
            <div class="grid2">
              <section class="panel" aria-labelledby="ap-applicant">
                <h2 id="ap-applicant" class="people-head">申请人</h2>
                <dl class="facts">
                  <Fact term="姓名">{app.real_name}</Fact>
                  <Fact term="身份证号">
                    <code>{app.id_number ?? "—"}</code>
                  </Fact>
                  <Fact term="性别">{label(SEXES, app.sex)}</Fact>
                  <Fact term="年龄">{app.age === null || app.age === undefined ? "—" : `${app.age} 岁`}</Fact>
                  <Fact term="手机号">{app.phone}</Fact>
                  <Fact term="职业">{label(OCCUPATIONS, app.occupation)}</Fact>
                  <Fact term="平台">{label(PLATFORMS, app.platform)}</Fact>
                  <Fact term="平台工号">{app.platform_worker_id}</Fact>
                  <Fact term="工作地区代码">{app.region_code}</Fact>
                </dl>
              </section>
              <section class="panel" aria-labelledby="ap-status">
                <h2 id="ap-status" class="people-head">办理情况</h2>
                <dl class="facts">
                  <Fact term="状态">
                    <ApplicationStatus status={app.status} />
                  </Fact>
                  <Fact term="受理工会">{app.org.name}</Fact>
                  <Fact term="提交时间">{dateTime(app.created_at)}</Fact>
                  {app.decided_at && <Fact term="处理时间">{dateTime(app.decided_at)}</Fact>}
                  {app.decision_reason && <Fact term="拒绝原因">{app.decision_reason}</Fact>}
                  {app.membership_id && (
                    <Fact term="会籍">
                      <Link to={`/admin/members/${app.membership_id}`}>查看会员</Link>
                    </Fact>
                  )}
                </dl>
                <h3>系统核验</h3>
                <ul class="people-checks">
                  <li>
                    身份证号：
                    {app.identity_conflict ? (
                      <>
                        <Badge tone="bad">已被其他账号使用</Badge>
                        {app.status === "pending" && " 请核实申请人身份后再决定。"}
                      </>
                    ) : app.identity_conflict === false ? (
                      <Badge tone="good">未发现冲突</Badge>
                    ) : (
                      <Badge>未报告</Badge>
                    )}
                  </li>
                  <li>
                    年龄（由身份证号推算，入会须年满 16 周岁且不超过 70 周岁）：
                    {app.age === null || app.age === undefined ? "—" : `${app.age} 岁`}
                  </li>
                </ul>
              </section>
            </div>
            {dialog === "approve" && (
              <ApproveDialog
                app={app}
                onClose={() => setDialog(null)}
                onDone={() => {
                  setDialog(null);
                  loaded.reload();
                }}
              />
            )}
            {dialog === "reject" && (
              <ReasonDialog
                title="拒绝入会申请"
                intro={
                  <p>
                    拒绝 <strong>{app.real_name}</strong> 的入会申请。原因会通知申请人，请写清楚如何补正。
                  </p>
                }
                presets={REJECT_REASONS}
                reasonLabel="拒绝原因"
                hint="将告知申请人，200 字以内"
                submitLabel="确认拒绝"
                danger
                onClose={() => setDialog(null)}
                onSubmit={async (reason) => {
                  await call(() =>
                    api.POST("/api/v1/admin/membership/applications/{id}/reject", {
                      params: { path: { id: app.id } },
                      body: { reason },
                    }),
                  );
                  notify(`已拒绝 ${app.real_name} 的入会申请`);
                  setDialog(null);
                  loaded.reload();
                }}
              />
            )}
          </>
        )}
      </Loader>
    </>
  );
}
