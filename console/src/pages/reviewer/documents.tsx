// A claim's documents, shown inline: each fetched with the bearer token (`fetchBlob`: a
// plain <img src> cannot send it), images as <img> from a blob URL, PDFs drawn page by page
// onto <canvas> by pdf.js (headless and locked-down browsers have no PDF viewer of their
// own). pdf.js is imported only here, when a claim page opens; blob URLs and PDF documents
// are released when the page closes.
import { useEffect, useRef, useState } from "preact/hooks";
import workerUrl from "pdfjs-dist/build/pdf.worker.min.mjs?url";
import { fetchBlob, saveBlob, type Problem, type Schemas } from "../../api/client";
import { Badge, ProblemAlert, dateTime, toProblem } from "../../ui";
import { DOCUMENTS, fileSize } from "./labels";

type DocumentView = Schemas["DocumentView"];
type PdfJs = typeof import("pdfjs-dist");
type PdfData = typeof import("./pdf-data");

/** At most this many pages of one PDF are drawn (the rest can be downloaded). */
const MAX_PAGES = 20;

type PdfWorker = import("pdfjs-dist").PDFWorker;

let pdfjs: Promise<[PdfJs, PdfData, PdfWorker]> | null = null;

/**
 * pdf.js (and the CMaps and wasm image decoders it may ask for), loaded once, on first use,
 * with one worker for all the documents of the tab, from our own origin (CSP: worker-src
 * 'self').
 */
function loadPdfJs(): Promise<[PdfJs, PdfData, PdfWorker]> {
  if (!pdfjs) {
    pdfjs = Promise.all([import("pdfjs-dist"), import("./pdf-data")]).then(([m, data]) => {
      m.GlobalWorkerOptions.workerSrc = workerUrl;
      return [m, data, new m.PDFWorker({ verbosity: m.VerbosityLevel.ERRORS })];
    });
    pdfjs.catch(() => {
      pdfjs = null;
    });
  }
  return pdfjs;
}

/** A document's name: its kind, numbered when the claim has several of that kind. */
export function documentLabels(docs: DocumentView[]): Map<string, string> {
  const counts = new Map<string, number>();
  for (const d of docs) counts.set(d.kind, (counts.get(d.kind) ?? 0) + 1);
  const seen = new Map<string, number>();
  const labels = new Map<string, string>();
  for (const d of docs) {
    const n = (seen.get(d.kind) ?? 0) + 1;
    seen.set(d.kind, n);
    const name = DOCUMENTS[d.kind];
    labels.set(d.id, (counts.get(d.kind) ?? 0) > 1 ? `${name}（第 ${n} 份）` : name);
  }
  return labels;
}

export function Documents({
  docs,
  reads,
}: {
  docs: DocumentView[];
  reads: Schemas["DocumentReadView"][];
}) {
  const labels = documentLabels(docs);
  if (docs.length === 0) return <p class="empty">这件申请没有上传材料。</p>;
  return (
    <>
      <nav aria-label="材料目录" class="rv-doc-index">
        <ul>
          {docs.map((d) => (
            <li key={d.id}>
              <a href={`#rv-doc-${d.id}`}>{labels.get(d.id)}</a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="rv-docs">
        {docs.map((d) => (
          <DocumentCard
            key={d.id}
            doc={d}
            label={labels.get(d.id) ?? DOCUMENTS[d.kind]}
            lastRead={reads.filter((r) => r.document_id === d.id).map((r) => r.read_at).sort().pop()}
          />
        ))}
      </div>
    </>
  );
}

function DocumentCard({
  doc,
  label,
  lastRead,
}: {
  doc: DocumentView;
  label: string;
  lastRead: string | undefined;
}) {
  const [blob, setBlob] = useState<Blob | null>(null);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  const [zoomed, setZoomed] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const isPdf = doc.content_type === "application/pdf";
  const isImage = doc.content_type.startsWith("image/");

  useEffect(() => {
    let live = true;
    setProblem(undefined);
    fetchBlob(doc.url).then(
      (b) => {
        if (!live) return;
        setBlob(b);
      },
      (e: unknown) => {
        if (live) setProblem(toProblem(e));
      },
    );
    return () => {
      live = false;
    };
  }, [doc.url, attempt]);

  const extension = isPdf ? "pdf" : doc.content_type === "image/png" ? "png" : "jpg";
  return (
    <figure class={zoomed ? "rv-doc card rv-zoomed" : "rv-doc card"} id={`rv-doc-${doc.id}`} aria-label={label}>
      <figcaption class="rv-doc-head">
        <div>
          <h3>{label}</h3>
          <p class="muted small">
            {isPdf ? "PDF" : isImage ? "图片" : doc.content_type} · {fileSize(doc.bytes)} · 上传于 {dateTime(doc.uploaded_at)}
            {lastRead ? ` · 工作人员最近查阅 ${dateTime(lastRead)}` : ""}
          </p>
        </div>
        <div class="row">
          <button
            type="button"
            class="secondary"
            aria-pressed={zoomed}
            disabled={!blob}
            onClick={() => setZoomed(!zoomed)}
          >
            {zoomed ? "缩小" : "放大"}
            <span class="rv-visually-hidden">{label}</span>
          </button>
          <button
            type="button"
            class="secondary"
            disabled={!blob}
            onClick={() => blob && saveBlob(blob, `${label}.${extension}`)}
          >
            下载<span class="rv-visually-hidden">{label}</span>
          </button>
        </div>
      </figcaption>
      {/* Scrolls when zoomed or long: focusable, so the keyboard can scroll it too. */}
      <div class="rv-doc-body" tabIndex={0} role="group" aria-label={`${label}内容`}>
        {problem ? (
          <>
            <ProblemAlert problem={problem} />
            <button type="button" class="secondary" onClick={() => setAttempt(attempt + 1)}>
              重新加载
            </button>
          </>
        ) : !blob ? (
          <p class="muted" role="status">
            正在加载{label}…
          </p>
        ) : isPdf ? (
          <PdfView blob={blob} label={label} />
        ) : isImage ? (
          <ImageView blob={blob} label={label} />
        ) : (
          <p>
            <Badge>无法预览</Badge> 这种文件不能在页面中显示，请下载后查看。
          </p>
        )}
      </div>
    </figure>
  );
}

function ImageView({ blob, label }: { blob: Blob; label: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    const u = URL.createObjectURL(blob);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [blob]);
  if (!url) return null;
  return <img class="rv-doc-image" src={url} alt={`${label}（申请人上传的照片）`} />;
}

/**
 * Whether a drawn page lacks one of its images. pdf.js does not fail a page whose image it
 * cannot decode (a JPEG 2000 or JBIG2 scan its wasm decoder rejects, say): it warns, sends
 * the image as null and draws the page without it. Its objects (page-own `img_…`, shared
 * `g_…_img_…`) are all resolved once the page is drawn, so a null one is such an image.
 */
function lostImage(page: import("pdfjs-dist").PDFPageProxy): boolean {
  const all: Iterable<readonly unknown[]>[] = [page.objs, page.commonObjs];
  for (const objs of all) {
    for (const [id, data] of objs) {
      if (typeof id === "string" && /(^|_)img_/.test(id) && data === null) return true;
    }
  }
  return false;
}

interface PageCanvas {
  n: number;
  width: number;
  height: number;
}

function PdfView({ blob, label }: { blob: Blob; label: string }) {
  const [pages, setPages] = useState<PageCanvas[] | null>(null);
  const [total, setTotal] = useState(0);
  const [failed, setFailed] = useState(false);
  const [drawn, setDrawn] = useState(0);
  // Pages drawn without one of their images (pdf.js could not decode it: it only warns).
  const [missing, setMissing] = useState<number[]>([]);
  const canvases = useRef(new Map<number, HTMLCanvasElement>());
  const docRef = useRef<import("pdfjs-dist").PDFDocumentProxy | null>(null);

  // Open the document and measure its pages.
  useEffect(() => {
    let live = true;
    let task: import("pdfjs-dist").PDFDocumentLoadingTask | null = null;
    (async () => {
      try {
        const [lib, extra, worker] = await loadPdfJs();
        if (!live) return;
        const data = new Uint8Array(await blob.arrayBuffer());
        // pdf.js 6 has no eval path any more (its `isEvalSupported` option is gone), so
        // nothing here needs `unsafe-eval`.
        task = lib.getDocument({
          data,
          worker,
          verbosity: lib.VerbosityLevel.ERRORS,
          // CMaps and wasm decoders come from the page (our hashed assets), not fetched by
          // the worker.
          useWorkerFetch: false,
          BinaryDataFactory: extra.BinaryData,
        });
        const pdf = await task.promise;
        if (!live) {
          void pdf.loadingTask.destroy();
          return;
        }
        docRef.current = pdf;
        setTotal(pdf.numPages);
        const list: PageCanvas[] = [];
        for (let n = 1; n <= Math.min(pdf.numPages, MAX_PAGES); n++) {
          const page = await pdf.getPage(n);
          const vp = page.getViewport({ scale: 1 });
          list.push({ n, width: vp.width, height: vp.height });
        }
        if (live) setPages(list);
      } catch {
        if (live) setFailed(true);
      }
    })();
    return () => {
      live = false;
      const pdf = docRef.current;
      docRef.current = null;
      if (pdf) void pdf.loadingTask.destroy();
      else if (task) void task.destroy();
    };
  }, [blob]);

  // Draw each page once its canvas is in the document, sharp at 1.5 times the shown width
  // (zoomed in, it is shown twice as wide).
  useEffect(() => {
    const pdf = docRef.current;
    if (!pdf || !pages) return;
    let live = true;
    const tasks: { cancel: () => void }[] = [];
    setMissing([]);
    (async () => {
      let count = 0;
      const lost: number[] = [];
      for (const p of pages) {
        const canvas = canvases.current.get(p.n);
        if (!canvas || !live) continue;
        try {
          const page = await pdf.getPage(p.n);
          const target = Math.max(canvas.parentElement?.clientWidth ?? 800, 400);
          const scale = Math.min(4, (target * Math.max(window.devicePixelRatio, 1) * 1.5) / p.width);
          const viewport = page.getViewport({ scale });
          canvas.width = Math.floor(viewport.width);
          canvas.height = Math.floor(viewport.height);
          const task = page.render({ canvas, viewport });
          tasks.push(task);
          await task.promise;
          count += 1;
          if (lostImage(page)) lost.push(p.n);
          if (live) {
            setMissing([...lost]);
            setDrawn(count);
          }
        } catch (e) {
          if (!live) return;
          if (e instanceof Error && e.name === "RenderingCancelledException") return;
          setFailed(true);
          return;
        }
      }
    })();
    return () => {
      live = false;
      for (const t of tasks) t.cancel();
    };
  }, [pages]);

  if (failed) {
    return (
      <p class="rv-callout" role="alert">
        这份 PDF 无法在页面中显示（文件可能已损坏、加密或使用了无法识别的格式），请点击“下载”后用其他软件查看。
      </p>
    );
  }
  if (!pages) {
    return (
      <p class="muted" role="status">
        正在打开{label}…
      </p>
    );
  }
  return (
    <div class="rv-pdf" aria-busy={drawn < pages.length}>
      {missing.length > 0 && (
        <p class="rv-callout" role="alert">
          第 {missing.join("、")} 页有图片无法解码显示（扫描件的图像可能已损坏或格式不受支持），页面内容不完整，请点击“下载”后用其他软件查看原件。
        </p>
      )}
      {pages.map((p) => (
        <canvas
          key={p.n}
          ref={(el) => {
            if (el) canvas(p.n, el);
          }}
          class="rv-pdf-page"
          role="img"
          aria-label={`${label}，第 ${p.n} 页，共 ${total} 页`}
          data-rendered={p.n <= drawn ? "true" : "false"}
          style={{ aspectRatio: `${p.width} / ${p.height}` }}
        />
      ))}
      {total > pages.length && (
        <p class="muted small">
          这份 PDF 共 {total} 页，页面中只显示前 {pages.length} 页，其余请下载后查看。
        </p>
      )}
    </div>
  );

  function canvas(n: number, el: HTMLCanvasElement) {
    canvases.current.set(n, el);
  }
}
