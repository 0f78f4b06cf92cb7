// Transfers between unions: members asking to move into one of the admin's unions. The
// receiving union decides; approval moves the member with a new card number.
import { useState } from "preact/hooks";
import { api, call } from "../../../api/client";
import { Link, setQuery, useLocation } from "../../../router";
import { Empty, Field, Loader, PageTitle, Pager, dateTime, notify, usePages, value } from "../../../ui";
import { ReasonDialog, TRANSFER_STATUS_OPTIONS, TransferStatus, oneOf, type Transfer } from "./common";

const PAGE_SIZE = 20;

export function Transfers() {
  const { query } = useLocation();
  const status = query.get("status") ?? "pending";
  const filter = oneOf(TRANSFER_STATUS_OPTIONS, status);
  const pages = usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/admin/membership/transfers", {
          params: { query: { status: filter, cursor, limit: PAGE_SIZE } },
        }),
      ),
    [filter ?? "all"],
  );
  const [deciding, setDeciding] = useState<{ transfer: Transfer; approve: boolean } | null>(null);
  const statusText = TRANSFER_STATUS_OPTIONS.find(([c]) => c === status)?.[1] ?? "全部";
  return (
    <>
      <PageTitle title="转会审核" />
      <p class="muted">会员申请从其他工会转入您所辖的基层工会。批准后会员转入新工会并获得新的会员证号；说明会告知会员。</p>
      <form class="filters" role="search" aria-label="筛选转会申请" onSubmit={(e) => e.preventDefault()}>
        <Field label="状态">
          {(p) => (
            <select {...p} value={status} onChange={(e) => setQuery({ status: value(e) })}>
              {TRANSFER_STATUS_OPTIONS.map(([code, text]) => (
                <option key={code} value={code}>
                  {text}
                </option>
              ))}
              <option value="all">全部</option>
            </select>
          )}
        </Field>
      </form>
      <Loader loaded={pages}>
        {() =>
          pages.items.length === 0 ? (
            <Empty>没有{statusText === "全部" ? "" : `“${statusText}”的`}转会申请。</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption>转会申请（{statusText}）</caption>
                <thead>
                  <tr>
                    <th scope="col">会员</th>
                    <th scope="col">转出工会</th>
                    <th scope="col">转入工会</th>
                    <th scope="col">会员说明</th>
                    <th scope="col">申请时间</th>
                    <th scope="col">状态</th>
                    <th scope="col">操作</th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((t) => (
                    <tr key={t.id}>
                      <td>
                        <Link to={`/admin/members/${t.membership_id}`}>{t.member_name ?? "查看会员"}</Link>
                      </td>
                      <td>{t.from_org.name}</td>
                      <td>{t.to_org.name}</td>
                      <td>{t.reason ?? "—"}</td>
                      <td>{dateTime(t.created_at)}</td>
                      <td>
                        <TransferStatus status={t.status} />
                        {t.decision_note && <p class="small muted people-note">说明：{t.decision_note}</p>}
                        {t.decided_at && <p class="small muted people-note">{dateTime(t.decided_at)}</p>}
                      </td>
                      <td>
                        {t.status === "pending" ? (
                          <span class="row">
                            <button type="button" onClick={() => setDeciding({ transfer: t, approve: true })}>
                              批准<span class="people-sr">{t.member_name ?? ""}的转会</span>
                            </button>
                            <button type="button" class="danger" onClick={() => setDeciding({ transfer: t, approve: false })}>
                              拒绝<span class="people-sr">{t.member_name ?? ""}的转会</span>
                            </button>
                          </span>
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
      {deciding && (
        <ReasonDialog
          title={deciding.approve ? "批准转会" : "拒绝转会"}
          intro={
            <p>
              {deciding.approve ? "批准" : "拒绝"} <strong>{deciding.transfer.member_name ?? "该会员"}</strong> 从{" "}
              {deciding.transfer.from_org.name} 转入 {deciding.transfer.to_org.name}。
              {deciding.approve ? "批准后会员将获得新的会员证号。" : ""}
            </p>
          }
          reasonLabel={deciding.approve ? "说明（选填）" : "拒绝原因"}
          hint="将告知会员，200 字以内"
          required={!deciding.approve}
          minLength={deciding.approve ? 0 : 1}
          submitLabel={deciding.approve ? "确认批准" : "确认拒绝"}
          danger={!deciding.approve}
          onClose={() => setDeciding(null)}
          onSubmit={async (note) => {
            const id = deciding.transfer.id;
            const body = { note: note === "" ? null : note };
            if (deciding.approve) {
              await call(() =>
                api.POST("/api/v1/admin/membership/transfers/{id}/approve", { params: { path: { id } }, body }),
              );
              notify("已批准转会");
            } else {
              await call(() =>
                api.POST("/api/v1/admin/membership/transfers/{id}/reject", { params: { path: { id } }, body }),
              );
              notify("已拒绝转会");
            }
            setDeciding(null);
            pages.reload();
          }}
        />
      )}
    </>
  );
}
