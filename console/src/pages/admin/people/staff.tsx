// Staff logins and their roles: the list (staff whose home org is in the admin's subtrees),
// a new login with roles on org subtrees, changing name and roles, resetting a password,
// disabling and enabling. Station managers are assigned on stations, not here.
import { useId, useState } from "preact/hooks";
import { api, call } from "../../../api/client";
import { Link, navigate } from "../../../router";
import { session } from "../../../session";
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
  notify,
  useAction,
  useIdempotent,
  usePages,
  value,
} from "../../../ui";
import {
  ASSIGNABLE_ROLES,
  OrgSelect,
  ROLES,
  StaffStatus,
  staffChanged,
  useOrgs,
  withinMyScope,
  type AssignableRole,
  type OrgNode,
  type Staff,
} from "./common";

const PAGE_SIZE = 20;

interface Grant {
  /** A stable key for the row. */
  key: number;
  role: AssignableRole | "";
  org_id: string;
}

let grantKeys = 0;
const newGrant = (role: AssignableRole | "" = "", org_id = ""): Grant => ({ key: ++grantKeys, role, org_id });

function isAssignable(role: string): role is AssignableRole {
  return (ASSIGNABLE_ROLES as string[]).includes(role);
}

/** Complete grants only; an empty row is ignored, a half-filled one is an error. */
function grantsOf(grants: Grant[]): { role: AssignableRole; org_id: string }[] | string {
  const out: { role: AssignableRole; org_id: string }[] = [];
  for (const [i, g] of grants.entries()) {
    if (!g.role && !g.org_id) continue;
    if (!g.role || !g.org_id) return `第 ${i + 1} 个角色需同时选择角色和适用范围`;
    out.push({ role: g.role, org_id: g.org_id });
  }
  return out;
}

function GrantRow({
  index,
  grant,
  orgs,
  onChange,
  onRemove,
}: {
  index: number;
  grant: Grant;
  orgs: OrgNode[];
  onChange: (g: Grant) => void;
  onRemove: () => void;
}) {
  const orgId = useId();
  return (
    <fieldset>
      <legend>角色 {index + 1}</legend>
      <div class="people-grant">
        <Field label="角色">
          {(p) => (
            <select {...p} value={grant.role} onChange={(e) => {
              const v = value(e);
              onChange({ ...grant, role: isAssignable(v) ? v : "" });
            }}>
              <option value="">请选择角色</option>
              {ASSIGNABLE_ROLES.map((r) => (
                <option key={r} value={r}>
                  {ROLES[r]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div class="field">
          <label for={orgId}>适用范围</label>
          <OrgSelect id={orgId} orgs={orgs} value={grant.org_id} onChange={(id) => onChange({ ...grant, org_id: id })} />
        </div>
        <button type="button" class="secondary" onClick={onRemove}>
          移除角色 {index + 1}
        </button>
      </div>
    </fieldset>
  );
}

function RolesEditor({ grants, setGrants, orgs }: { grants: Grant[]; setGrants: (g: Grant[]) => void; orgs: OrgNode[] }) {
  return (
    <>
      <p class="muted small">
        每个角色授予在一个组织上，覆盖该组织及其下属所有组织。工会管理员只能授予在您管理的组织的下级组织上。驿站管理员在驿站上指派，不在此设置。
      </p>
      {grants.length === 0 && <p class="muted">暂无角色。</p>}
      {grants.map((g, i) => (
        <GrantRow
          key={g.key}
          index={i}
          grant={g}
          orgs={orgs}
          onChange={(changed) => setGrants(grants.map((x) => (x.key === g.key ? changed : x)))}
          onRemove={() => setGrants(grants.filter((x) => x.key !== g.key))}
        />
      ))}
      <p>
        <button type="button" class="secondary" onClick={() => setGrants([...grants, newGrant()])}>
          添加角色
        </button>
      </p>
    </>
  );
}

function RoleList({ staff }: { staff: Staff }) {
  if (staff.roles.length === 0) return <span class="muted">无</span>;
  return (
    <ul class="people-roles">
      {staff.roles.map((r) => (
        <li key={`${r.role}-${r.org_id}`}>
          {ROLES[r.role]}（{r.org_name}）
        </li>
      ))}
    </ul>
  );
}

export function StaffList() {
  const pages = usePages(
    (cursor) => call(() => api.GET("/api/v1/admin/staff", { params: { query: { cursor, limit: PAGE_SIZE } } })),
    [],
  );
  const me = session.user()?.id;
  const [dialog, setDialog] = useState<{ kind: "edit" | "password" | "disable" | "enable"; staff: Staff } | null>(null);
  const done = (text: string) => {
    notify(text);
    setDialog(null);
    staffChanged();
    pages.reload();
  };
  return (
    <>
      <PageTitle title="工作人员">
        <Link to="/admin/staff/new" class="button">
          新建工作人员账号
        </Link>
      </PageTitle>
      <p class="muted">所属单位在您管辖范围内的工作人员账号。停用账号会立即结束其所有登录。</p>
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>还没有工作人员账号。</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption>工作人员账号</caption>
                <thead>
                  <tr>
                    <th scope="col">用户名</th>
                    <th scope="col">姓名</th>
                    <th scope="col">所属单位</th>
                    <th scope="col">角色</th>
                    <th scope="col">状态</th>
                    <th scope="col" class="people-wide">更新时间</th>
                    <th scope="col">操作</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((s) => (
                    <tr key={s.id}>
                      <td>
                        <code class="people-nowrap">{s.username}</code>
                      </td>
                      <td class="people-nowrap">{s.display_name}</td>
                      <td>{s.org.name}</td>
                      <td>
                        <RoleList staff={s} />
                      </td>
                      <td>
                        <StaffStatus status={s.status} />
                      </td>
                      <td class="people-wide">{dateTime(s.updated_at)}</td>
                      <td>
                        {s.id === me ? (
                          <span class="muted small">本人账号（由上级管理员修改）</span>
                        ) : (
                          <span class="people-actions">
                            <button type="button" class="secondary" onClick={() => setDialog({ kind: "edit", staff: s })}>
                              修改<span class="people-sr">{s.username}</span>
                            </button>
                            <button type="button" class="secondary" onClick={() => setDialog({ kind: "password", staff: s })}>
                              重置密码<span class="people-sr">{s.username}</span>
                            </button>
                            {s.status === "active" ? (
                              <button type="button" class="danger" onClick={() => setDialog({ kind: "disable", staff: s })}>
                                停用<span class="people-sr">{s.username}</span>
                              </button>
                            ) : (
                              <button type="button" class="secondary" onClick={() => setDialog({ kind: "enable", staff: s })}>
                                启用<span class="people-sr">{s.username}</span>
                              </button>
                            )}
                          </span>
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
      {dialog?.kind === "edit" && (
        <EditDialog staff={dialog.staff} onClose={() => setDialog(null)} onDone={() => done(`已保存 ${dialog.staff.username} 的修改`)} />
      )}
      {dialog?.kind === "password" && (
        <PasswordDialog
          staff={dialog.staff}
          onClose={() => setDialog(null)}
          onDone={() => done(`已重置 ${dialog.staff.username} 的密码`)}
        />
      )}
      {(dialog?.kind === "disable" || dialog?.kind === "enable") && (
        <StatusDialog
          staff={dialog.staff}
          disable={dialog.kind === "disable"}
          onClose={() => setDialog(null)}
          onDone={() => done(dialog.kind === "disable" ? `已停用 ${dialog.staff.username}` : `已启用 ${dialog.staff.username}`)}
        />
      )}
    </>
  );
}

function EditDialog({ staff, onClose, onDone }: { staff: Staff; onClose: () => void; onDone: () => void }) {
  const { orgs, problem: orgsProblem } = useOrgs();
  const [displayName, setDisplayName] = useState(staff.display_name);
  const [grants, setGrants] = useState<Grant[]>(() =>
    staff.roles.flatMap((r) => (isAssignable(r.role) ? [newGrant(r.role, r.org_id)] : [])),
  );
  const [error, setError] = useState<string | undefined>(undefined);
  const save = useAction(async () => {
    const roles = grantsOf(grants);
    if (typeof roles === "string") {
      setError(roles);
      return;
    }
    setError(undefined);
    const key = (list: { role: string; org_id: string }[]) =>
      list
        .map((r) => `${r.role}@${r.org_id}`)
        .sort()
        .join(",");
    const rolesChanged = key(roles) !== key(staff.roles.filter((r) => isAssignable(r.role)));
    const nameChanged = displayName.trim() !== staff.display_name;
    await call(() =>
      api.PATCH("/api/v1/admin/staff/{id}", {
        params: { path: { id: staff.id } },
        body: {
          display_name: nameChanged ? displayName.trim() : undefined,
          roles: rolesChanged ? roles : undefined,
        },
      }),
    );
    onDone();
  });
  return (
    <Dialog title={`修改 ${staff.username}`} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <Field label="姓名">
          {(p) => <input {...p} required maxLength={64} value={displayName} onInput={(e) => setDisplayName(value(e))} />}
        </Field>
        <ProblemAlert problem={orgsProblem} />
        {orgs ? <RolesEditor grants={grants} setGrants={setGrants} orgs={withinMyScope(orgs)} /> : !orgsProblem && <p role="status">正在加载组织…</p>}
        {error && (
          <p class="problem" role="alert">
            {error}
          </p>
        )}
        <ProblemAlert problem={save.problem} />
        <DialogButtons onCancel={onClose} label="保存" pending={save.pending} pendingLabel="正在保存…" disabled={!orgs} />
      </form>
    </Dialog>
  );
}

function PasswordDialog({ staff, onClose, onDone }: { staff: Staff; onClose: () => void; onDone: () => void }) {
  const [password, setPassword] = useState("");
  const save = useAction(async () => {
    await call(() =>
      api.PATCH("/api/v1/admin/staff/{id}", { params: { path: { id: staff.id } }, body: { password } }),
    );
    onDone();
  });
  return (
    <Dialog title={`重置 ${staff.username} 的密码`} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <p>重置后该账号的所有登录立即失效。请通过安全渠道把新密码告诉本人，并提醒其登录后修改。</p>
        <Field label="新密码" hint="10 至 128 位，须同时包含数字和其他字符">
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="new-password"
              required
              minLength={10}
              maxLength={128}
              value={password}
              onInput={(e) => setPassword(value(e))}
            />
          )}
        </Field>
        <ProblemAlert problem={save.problem} />
        <DialogButtons onCancel={onClose} label="重置密码" pending={save.pending} pendingLabel="正在保存…" />
      </form>
    </Dialog>
  );
}

function StatusDialog({
  staff,
  disable,
  onClose,
  onDone,
}: {
  staff: Staff;
  disable: boolean;
  onClose: () => void;
  onDone: () => void;
}) {
  const save = useAction(async () => {
    await call(() =>
      api.PATCH("/api/v1/admin/staff/{id}", { params: { path: { id: staff.id } }, body: { disabled: disable } }),
    );
    onDone();
  });
  return (
    <Dialog title={disable ? "停用账号" : "启用账号"} onClose={onClose}>
      <p>
        {disable
          ? `停用 ${staff.display_name}（${staff.username}）的账号？其所有登录将立即结束，之后无法登录，直到重新启用。`
          : `重新启用 ${staff.display_name}（${staff.username}）的账号？启用后可用原密码登录。`}
      </p>
      <ProblemAlert problem={save.problem} />
      <DialogButtons onCancel={onClose} label={disable ? "确认停用" : "确认启用"} pending={save.pending} pendingLabel="正在保存…" danger={disable} onConfirm={() => void save.run()} />
    </Dialog>
  );
}

/** A new staff login: username, name, home org, initial password, roles. */
export function NewStaff() {
  const { orgs, problem: orgsProblem } = useOrgs();
  const idempotent = useIdempotent();
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [orgId, setOrgId] = useState("");
  const [password, setPassword] = useState("");
  const [grants, setGrants] = useState<Grant[]>(() => [newGrant()]);
  const [error, setError] = useState<string | undefined>(undefined);
  const homeId = useId();
  const create = useAction(async () => {
    const roles = grantsOf(grants);
    if (typeof roles === "string") {
      setError(roles);
      return;
    }
    setError(undefined);
    const body = { username: username.trim(), display_name: displayName.trim(), org_id: orgId, password, roles };
    const created = await idempotent(body, (key) =>
      call(() => api.POST("/api/v1/admin/staff", { params: { header: { "Idempotency-Key": key } }, body })),
    );
    staffChanged();
    notify(`已创建工作人员账号 ${created.username}`);
    navigate("/admin/staff");
  });
  const scoped = orgs ? withinMyScope(orgs) : undefined;
  return (
    <>
      <p class="small">
        <Link to="/admin/staff">← 返回工作人员</Link>
      </p>
      <PageTitle title="新建工作人员账号" />
      <ProblemAlert problem={orgsProblem} />
      {!scoped ? (
        !orgsProblem && <p class="muted" role="status">正在加载…</p>
      ) : (
        <form
          class="panel people-form"
          onSubmit={(e) => {
            e.preventDefault();
            void create.run();
          }}
        >
          <Field label="用户名" hint="3 至 32 位小写字母、数字或 . _ -，以字母开头；创建后不能修改">
            {(p) => (
              <input
                {...p}
                required
                autoComplete="off"
                pattern="[a-z][a-z0-9._\-]{2,31}"
                value={username}
                onInput={(e) => setUsername(value(e))}
              />
            )}
          </Field>
          <Field label="姓名">
            {(p) => <input {...p} required maxLength={64} value={displayName} onInput={(e) => setDisplayName(value(e))} />}
          </Field>
          <div class="field">
            <label for={homeId}>所属单位</label>
            <OrgSelect id={homeId} orgs={scoped} value={orgId} onChange={setOrgId} required />
          </div>
          <Field label="初始密码" hint="10 至 128 位，须同时包含数字和其他字符；请通过安全渠道告诉本人">
            {(p) => (
              <input
                {...p}
                type="password"
                autoComplete="new-password"
                required
                minLength={10}
                maxLength={128}
                value={password}
                onInput={(e) => setPassword(value(e))}
              />
            )}
          </Field>
          <h2>角色</h2>
          <RolesEditor grants={grants} setGrants={setGrants} orgs={scoped} />
          {error && (
            <p class="problem" role="alert">
              {error}
            </p>
          )}
          <ProblemAlert problem={create.problem} />
          <div class="row">
            <button type="submit" disabled={create.pending}>
              {create.pending ? "正在创建…" : "创建账号"}
            </button>
            <Link to="/admin/staff" class="button secondary">
              取消
            </Link>
          </div>
        </form>
      )}
    </>
  );
}
