// Roster imports: the upload on a plan's page (the CSV itself as a text/csv body), the
// imports this browser started for a plan, and an import's page: live progress (polled
// until it ends), its counts, and the error report (the API's CSV, shown page by page and
// downloadable as it is).
import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, fetchBlob, saveBlob, uploadFile } from "../../../api/client";
import { Link, navigate } from "../../../router";
import {
  Empty,
  Field,
  Loader,
  PageTitle,
  Pager,
  ProblemAlert,
  dateTime,
  notify,
  useAction,
  useLoad,
  usePages,
} from "../../../ui";
import { ImportStatusBadge, Stat, pageOf, parseCsv, rowCodeField, type ImportView } from "./common";

const HEADER = "姓名,身份证号,手机号,平台工号,入职日期";
const POLL_MS = 1500;
const ERRORS_PAGE = 50;

function finished(i: ImportView): boolean {
  return i.status === "done" || i.status === "failed";
}

/** The upload form on a published plan's page. */
export function RosterUpload({ code }: { code: string }) {
  const [file, setFile] = useState<File | undefined>(undefined);
  const [missing, setMissing] = useState(false);
  const upload = useAction((f: File) =>
    uploadFile<ImportView>(`/api/v1/admin/plans/${encodeURIComponent(code)}/roster-imports`, f, "text/csv"),
  );
  const template = () => {
    const csv = `\uFEFF${HEADER}\r\n张三,110101199003070011,13800138000,MT-0001,2024-03-01\r\n`;
    saveBlob(new Blob([csv], { type: "text/csv;charset=utf-8" }), "名单模板.csv");
  };
  return (
    <form
      class="ops-upload"
      onSubmit={(e) => {
        e.preventDefault();
        if (!file) {
          setMissing(true);
          return;
        }
        void upload.run(file).then((view) => {
          if (!view) return;
          notify(`名单已上传，共 ${view.total_rows} 行，正在导入`);
          navigate(`/admin/roster-imports/${encodeURIComponent(view.id)}`);
        });
      }}
    >
      <p class="muted small">
        平台提供的骑手名单（CSV，UTF-8 或 GBK 编码，最多 100 万行），第一行为表头：<code>{HEADER}</code>
        （或 <code>name,id_number,phone,platform_worker_id,platform_start_date</code>）。手机号、平台工号、入职日期可留空。
        名单中的在会会员若符合参保条件即参保；其余行列入错误报告。
      </p>
      <Field label="名单文件（CSV）" error={missing ? "请选择名单文件" : undefined}>
        {(p) => (
          <input
            {...p}
            type="file"
            accept=".csv,text/csv"
            onChange={(e) => {
              setMissing(false);
              upload.clear();
              setFile(e.currentTarget.files?.[0]);
            }}
          />
        )}
      </Field>
      <ProblemAlert problem={upload.problem} />
      <div class="row">
        <button type="submit" disabled={upload.pending}>
          {upload.pending ? "正在上传…" : "上传并导入"}
        </button>
        <button type="button" class="secondary" onClick={template}>
          下载名单模板
        </button>
      </div>
    </form>
  );
}

/** A plan's imports, newest first. */
export function RecentImports({ code }: { code: string }) {
  const pages = usePages(
    (cursor) =>
      call(() =>
        api.GET("/api/v1/admin/plans/{code}/roster-imports", { params: { path: { code }, query: { cursor, limit: 10 } } }),
      ),
    [code],
  );
  if (pages.data && pages.items.length === 0 && !pages.hasPrevious) return null;
  return (
    <>
      <h3>名单导入记录</h3>
      <Loader loaded={pages}>
        {() => (
          <>
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">上传时间</th>
                    <th scope="col">状态</th>
                    <th scope="col" class="num">
                      行数
                    </th>
                    <th scope="col" class="num">
                      新参保
                    </th>
                    <th scope="col" class="num">
                      被拒绝
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {pages.items.map((i) => (
                    <tr key={i.id}>
                      <td>
                        <Link to={`/admin/roster-imports/${encodeURIComponent(i.id)}`}>{dateTime(i.created_at)}</Link>
                      </td>
                      <td>
                        <ImportStatusBadge status={i.status} />
                      </td>
                      <td class="num">{i.total_rows}</td>
                      <td class="num">{i.enrolled}</td>
                      <td class="num">{i.not_members + i.ineligible + i.invalid_rows}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager {...pages} />
          </>
        )}
      </Loader>
    </>
  );
}

interface ErrorRow {
  row: string;
  idNumber: string;
  code: string;
  detail: string;
}

function ErrorReport({ id }: { id: string }) {
  const report = useLoad(async () => {
    const blob = await fetchBlob(`/api/v1/admin/roster-imports/${encodeURIComponent(id)}/errors`);
    const rows = parseCsv(await blob.text()).slice(1); // the header: 行号,身份证号,原因代码,原因
    return {
      blob,
      rows: rows.map(([row = "", idNumber = "", code = "", detail = ""]): ErrorRow => ({ row, idNumber, code, detail })),
    };
  }, [id]);
  const rows = report.data?.rows ?? [];
  const pages = usePages(async (cursor) => pageOf(rows, cursor, ERRORS_PAGE), [report.data]);
  return (
    <section class="panel ops-section" aria-labelledby="ops-errors">
      <div class="ops-head">
        <h2 id="ops-errors">错误报告</h2>
        {report.data && (
          <button type="button" class="secondary" onClick={() => report.data && saveBlob(report.data.blob, `名单错误报告-${id}.csv`)}>
            下载错误报告（CSV）
          </button>
        )}
      </div>
      <Loader loaded={report}>
        {() =>
          rows.length === 0 ? (
            <Empty>没有被拒绝的行。</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table>
                  <caption>共 {rows.length} 行被拒绝；行号为表头之后的第几行数据（第 1 行即文件第 2 行）。</caption>
                  <thead>
                    <tr>
                      <th scope="col" class="num">
                        行号
                      </th>
                      <th scope="col">身份证号（脱敏）</th>
                      <th scope="col">问题所在</th>
                      <th scope="col">原因代码</th>
                      <th scope="col">原因</th>
                    </tr>
                  </thead>
                  <tbody>
                    {pages.items.map((r) => (
                      <tr key={r.row}>
                        <td class="num">{r.row}</td>
                        <td>
                          <code>{r.idNumber || "—"}</code>
                        </td>
                        <td>{rowCodeField(r.code)}</td>
                        <td>
                          <code>{r.code}</code>
                        </td>
                        <td>{r.detail}</td>
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
    </section>
  );
}

export function ImportPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const loaded = useLoad(() => call(() => api.GET("/api/v1/admin/roster-imports/{id}", { params: { path: { id } } })), [id]);
  const view = loaded.data;
  const done = view ? finished(view) : false;
  // Polls while the import runs; stops when it has ended (or the page is left).
  useEffect(() => {
    if (!view || done || loaded.loading) return;
    const timer = setTimeout(loaded.reload, POLL_MS);
    return () => clearTimeout(timer);
  }, [view, done, loaded.loading, loaded.reload]);
  // Announced when this page saw it end, not when it opens an import that ended long ago.
  const sawRunning = useRef(false);
  if (view && !done) sawRunning.current = true;
  useEffect(() => {
    if (view && done && sawRunning.current) notify(view.status === "done" ? "名单导入已完成" : "名单导入失败");
  }, [done]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <>
      <PageTitle title="名单导入" />
      <Loader loaded={loaded}>
        {(i) => {
          const percent = i.total_rows > 0 ? Math.floor((i.processed_rows * 100) / i.total_rows) : 0;
          const rejected = i.not_members + i.ineligible + i.invalid_rows;
          return (
            <>
              <p>
                <Link to={`/admin/plans/${encodeURIComponent(i.plan_code)}`}>← 计划 {i.plan_code}</Link>
              </p>
              <section class="panel ops-section" aria-labelledby="ops-progress">
                <div class="ops-head">
                  <h2 id="ops-progress">进度</h2>
                  <ImportStatusBadge status={i.status} />
                </div>
                <progress class="ops-progress" max={Math.max(1, i.total_rows)} value={i.processed_rows} aria-labelledby="ops-progress-text" />
                <p id="ops-progress-text" role="status" aria-live="polite">
                  {i.status === "queued" && `排队中：共 ${i.total_rows} 行，等待处理`}
                  {i.status === "running" && `处理中：已处理 ${i.processed_rows} / ${i.total_rows} 行（${percent}%）`}
                  {i.status === "done" && `已完成：${i.processed_rows} / ${i.total_rows} 行已处理`}
                  {i.status === "failed" && `已失败：处理了 ${i.processed_rows} / ${i.total_rows} 行，已处理的行保持有效`}
                </p>
                {i.failure && (
                  <div class="problem" role="alert">
                    <p>{i.failure}</p>
                  </div>
                )}
                <dl class="ops-stats">
                  <Stat label="总行数">{i.total_rows}</Stat>
                  <Stat label="已处理">{i.processed_rows}</Stat>
                  <Stat label="新参保">{i.enrolled}</Stat>
                  <Stat label="已参保（跳过）">{i.already_enrolled}</Stat>
                  <Stat label="非会员">{i.not_members}</Stat>
                  <Stat label="不符合参保条件">{i.ineligible}</Stat>
                  <Stat label="格式错误">{i.invalid_rows}</Stat>
                </dl>
                <dl class="facts ops-facts">
                  <dt>文件编码</dt>
                  <dd>{i.encoding === "gbk" ? "GBK" : i.encoding === "utf8_bom" ? "UTF-8（带 BOM）" : "UTF-8"}</dd>
                  <dt>上传时间</dt>
                  <dd>{dateTime(i.created_at)}</dd>
                  <dt>开始处理</dt>
                  <dd>{dateTime(i.started_at)}</dd>
                  <dt>结束时间</dt>
                  <dd>{dateTime(i.finished_at)}</dd>
                  <dt>上传的文件</dt>
                  <dd>{i.file_stored ? "加密保存中（导入结束后删除）" : "已删除"}</dd>
                </dl>
              </section>
              {done ? (
                rejected > 0 ? (
                  <ErrorReport id={i.id} />
                ) : (
                  <section class="panel ops-section" aria-labelledby="ops-errors">
                    <h2 id="ops-errors">错误报告</h2>
                    <Empty>没有被拒绝的行。</Empty>
                  </section>
                )
              ) : (
                <p class="muted">导入结束后在这里显示错误报告。</p>
              )}
            </>
          );
        }}
      </Loader>
    </>
  );
}
