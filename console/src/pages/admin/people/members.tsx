// Members: search (name, phone, card number or ID number, as the API matches them), and one
// member with history, suspension and reinstatement, and the log of identity reads. The
// unmasked ID number is shown only after the admin states why (the API records the read).
import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../../../api/client";
import { Link, setQuery, useLocation } from "../../../router";
import {
  Dialog,
  DialogButtons,
  Empty,
  Field,
  Loader,
  Pager,
  PageTitle,
  ProblemAlert,
  date,
  dateTime,
  notify,
  useAction,
  useLoad,
  usePages,
  value,
} from "../../../ui";
import {
  Fact,
  MEMBERSHIP_STATUS_OPTIONS,
  MembershipStatus,
  OCCUPATIONS,
  PLATFORMS,
  ReasonDialog,
  SEXES,
  historyKind,
  label,
  oneOf,
  staffName,
  useStaffNames,
} from "./common";

const PAGE_SIZE = 20;

const SUSPEND_REASONS = [
  "经核实存在冒用他人身份入会的情况，核查期间暂停会籍",
  "会员本人申请暂停会籍",
  "违反工会章程，经研究决定暂停会籍",
];

function searchOf(state: unknown): string {
  if (state && typeof state === "object" && "q" in state && typeof state.q === "string") return state.q;
  return "";
}

export function Members() {
  const { query } = useLocation();
  // The search text may be a full ID number or phone: it stays out of the address (history,
  // suggestions, sync) and lives in this history entry's state, so Back still finds it.
  const [q, setQ] = useState<string>(() => searchOf(window.history.state));
  const status = query.get("status") ?? "";
  const filter = oneOf(MEMBERSHIP_STATUS_OPTIONS, status);
  const [text, setText] = useState(q);
  useEffect(() => setText(q), [q]);
  const search = (next: string) => {
    setQ(next);
    const state: unknown = window.history.state;
    const base = state && typeof state === "object" ? state : {};
    window.history.replaceState({ ...base, q: next }, "", window.location.href);
  };
  const pages = usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/admin/members", {
          params: { query: { q: q || undefined, status: filter, cursor, limit: PAGE_SIZE } },
        }),
      ),
    [q, filter ?? ""],
  );
  return (
    <>
      <PageTitle title="会员" />
      <form
        class="people-search"
        role="search"
        aria-label="会员搜索"
        onSubmit={(e) => {
          e.preventDefault();
          search(text.trim());
        }}
      >
        <Field label="查找会员" hint="输入姓名（开头几个字）、手机号、会员证号或完整的身份证号">
          {(p) => <input {...p} type="search" value={text} onInput={(e) => setText(value(e))} />}
        </Field>
        <Field label="会籍状态">
          {(p) => (
            <select {...p} value={filter ?? ""} onChange={(e) => setQuery({ status: value(e) })}>
              <option value="">全部</option>
              {MEMBERSHIP_STATUS_OPTIONS.map(([code, t]) => (
                <option key={code} value={code}>
                  {t}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit">搜索</button>
        {(q || filter) && (
          <button type="button" class="secondary" onClick={() => {
              search("");
              setQuery({ status: null });
            }}>
            清除条件
          </button>
        )}
      </form>
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>{q ? `没有找到与“${q}”匹配的会员。` : "没有符合条件的会员。"}</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption>{q ? `“${q}”的搜索结果` : "会员列表"}</caption>
                <thead>
                  <tr>
                    <th scope="col">姓名</th>
                    <th scope="col">会员证号</th>
                    <th scope="col">所属工会</th>
                    <th scope="col">职业 / 平台</th>
                    <th scope="col">入会日期</th>
                    <th scope="col">状态</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((m) => (
                    <tr key={m.id}>
                      <td>
                        <Link to={`/admin/members/${m.id}`}>{m.real_name}</Link>
                      </td>
                      <td>
                        <code>{m.card_number}</code>
                      </td>
                      <td>{m.org.name}</td>
                      <td>
                        {label(OCCUPATIONS, m.occupation)} / {label(PLATFORMS, m.platform)}
                      </td>
                      <td>{date(m.joined_on)}</td>
                      <td>
                        <MembershipStatus status={m.status} />
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

function RevealDialog({
  membershipId,
  name,
  onClose,
  onRevealed,
}: {
  membershipId: string;
  name: string;
  onClose: () => void;
  onRevealed: (identity: Schemas["Identity"]) => void;
}) {
  const [purpose, setPurpose] = useState("");
  const read = useAction(async () => {
    const identity = await call(() =>
      api.POST("/api/v1/admin/members/{membership_id}/identity-reads", {
        params: { path: { membership_id: membershipId } },
        body: { purpose: purpose.trim() },
      }),
    );
    onRevealed(identity);
  });
  return (
    <Dialog title="查看完整身份证号" onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void read.run();
        }}
      >
        <p>
          您将查看 <strong>{name}</strong> 未遮盖的身份证号。本次查看会被记录（查看人、时间和原因），会员的查看记录中可见。
        </p>
        <Field label="查看原因" hint="必填，4 至 200 字，例如：办理理赔需核对身份证件">
          {(p) => (
            <textarea
              {...p}
              rows={2}
              required
              minLength={4}
              maxLength={200}
              value={purpose}
              onInput={(e) => setPurpose(value(e))}
            />
          )}
        </Field>
        <ProblemAlert problem={read.problem} />
        <DialogButtons onCancel={onClose} label="确认查看" pending={read.pending} pendingLabel="正在读取…" />
      </form>
    </Dialog>
  );
}

export function MemberPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const loaded = useLoad(
    () => call(() => api.GET("/api/v1/admin/members/{membership_id}", { params: { path: { membership_id: id } } })),
    [id],
  );
  const staff = useStaffNames();
  const [dialog, setDialog] = useState<"suspend" | "reinstate" | "reveal" | null>(null);
  const [revealed, setRevealed] = useState<Schemas["Identity"] | null>(null);
  useEffect(() => setRevealed(null), [id]);
  return (
    <>
      <p class="small">
        <Link to="/admin/members">← 返回会员</Link>
      </p>
      <Loader loaded={loaded}>
        {({ membership: m, history, identity_reads: reads }) => (
          <>
            <PageTitle title={`会员：${m.real_name}`}>
              {m.status === "active" && (
                <button type="button" class="danger" onClick={() => setDialog("suspend")}>
                  暂停会籍
                </button>
              )}
              {m.status === "suspended" && (
                <button type="button" onClick={() => setDialog("reinstate")}>
                  恢复会籍
                </button>
              )}
            </PageTitle>
            <div class="grid2">
              <section class="panel" aria-labelledby="people-membership">
                <h2 id="people-membership" class="people-head">会籍</h2>
                <dl class="facts">
                  <Fact term="状态">
                    <MembershipStatus status={m.status} />
                  </Fact>
                  <Fact term="会员证号">
                    <code>{m.card_number}</code>
                  </Fact>
                  <Fact term="所属工会">{m.org.name}</Fact>
                  <Fact term="入会日期">{date(m.joined_on)}</Fact>
                  {m.ended_at && <Fact term="结束时间">{dateTime(m.ended_at)}</Fact>}
                  {m.cover_kept && <Fact term="保障">{m.cover_kept}</Fact>}
                </dl>
              </section>
              <section class="panel" aria-labelledby="people-person">
                <h2 id="people-person" class="people-head">个人信息</h2>
                {m.erased ? (
                  <p>该会员的个人信息已应本人要求删除。</p>
                ) : (
                  <>
                    <dl class="facts">
                      <Fact term="姓名">{m.real_name}</Fact>
                      <Fact term="身份证号">
                        <code>{m.id_number ?? "—"}</code>
                      </Fact>
                      <Fact term="性别">{label(SEXES, m.sex)}</Fact>
                      <Fact term="年龄">{m.age === null || m.age === undefined ? "—" : `${m.age} 岁`}</Fact>
                      <Fact term="职业">{label(OCCUPATIONS, m.occupation)}</Fact>
                      <Fact term="平台">{label(PLATFORMS, m.platform)}</Fact>
                      <Fact term="工作地区代码">{m.region_code}</Fact>
                    </dl>
                    {revealed ? (
                      <div class="people-revealed" role="status">
                        <p>
                          完整身份证号（已记录本次查看）：<code>{revealed.id_number}</code>
                        </p>
                        <button type="button" class="secondary" onClick={() => setRevealed(null)}>
                          隐藏
                        </button>
                      </div>
                    ) : (
                      <p>
                        <button type="button" class="secondary" onClick={() => setDialog("reveal")}>
                          查看完整身份证号
                        </button>
                      </p>
                    )}
                  </>
                )}
              </section>
            </div>

            <h2>会籍记录</h2>
            {history.length === 0 ? (
              <Empty>没有记录。</Empty>
            ) : (
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">时间</th>
                      <th scope="col">事项</th>
                      <th scope="col">办理人</th>
                      <th scope="col">原因</th>
                    </tr>
                  </thead>
                  <tbody>
                    {history.map((h, i) => (
                      <tr key={`${h.at}-${i}`}>
                        <td>{dateTime(h.at)}</td>
                        <td>{historyKind(h.kind)}</td>
                        <td>{h.actor_kind === "user" ? "会员本人" : staffName(staff, h.actor_id)}</td>
                        <td>{h.reason ?? "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}

            <h2>身份信息查看记录</h2>
            <p class="muted small">工作人员每次查看未遮盖的身份证号都会记录在此。</p>
            {reads.length === 0 ? (
              <Empty>还没有人查看过该会员的完整身份信息。</Empty>
            ) : (
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">时间</th>
                      <th scope="col">查看人</th>
                      <th scope="col">原因</th>
                    </tr>
                  </thead>
                  <tbody>
                    {reads.map((r, i) => (
                      <tr key={`${r.at}-${i}`}>
                        <td>{dateTime(r.at)}</td>
                        <td>{staffName(staff, r.staff_id)}</td>
                        <td>{r.purpose}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}

            {dialog === "reveal" && (
              <RevealDialog
                membershipId={m.id}
                name={m.real_name}
                onClose={() => setDialog(null)}
                onRevealed={(identity) => {
                  setRevealed(identity);
                  setDialog(null);
                  loaded.reload();
                }}
              />
            )}
            {(dialog === "suspend" || dialog === "reinstate") && (
              <ReasonDialog
                title={dialog === "suspend" ? "暂停会籍" : "恢复会籍"}
                intro={
                  <p>
                    {dialog === "suspend"
                      ? `暂停 ${m.real_name} 的会籍：暂停期间会员卡无法通过核验。原因会通知会员。`
                      : `恢复 ${m.real_name} 的会籍：会员卡恢复有效。原因会通知会员。`}
                  </p>
                }
                presets={dialog === "suspend" ? SUSPEND_REASONS : undefined}
                reasonLabel={dialog === "suspend" ? "暂停原因" : "恢复原因"}
                hint="将告知会员，200 字以内"
                submitLabel={dialog === "suspend" ? "确认暂停" : "确认恢复"}
                danger={dialog === "suspend"}
                onClose={() => setDialog(null)}
                onSubmit={async (reason) => {
                  if (dialog === "suspend") {
                    await call(() =>
                      api.POST("/api/v1/admin/members/{membership_id}/suspend", {
                        params: { path: { membership_id: m.id } },
                        body: { reason },
                      }),
                    );
                    notify(`已暂停 ${m.real_name} 的会籍`);
                  } else {
                    await call(() =>
                      api.POST("/api/v1/admin/members/{membership_id}/reinstate", {
                        params: { path: { membership_id: m.id } },
                        body: { reason },
                      }),
                    );
                    notify(`已恢复 ${m.real_name} 的会籍`);
                  }
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
