// 核验会员卡: the member shows the QR of their e-card; the manager pastes what a scanner
// read, or takes/uploads a photo of it (decoded here, in the browser, with jsQR), and the
// API says whether the card is a genuine, active member's. At a station, a valid card counts
// as a visit there.
import jsQR from "jsqr";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, type Schemas } from "../../api/client";
import { setQuery, useLocation } from "../../router";
import { Badge, Field, PageTitle, ProblemAlert, dateTime, useAction, useLoad, value } from "../../ui";
import "./manager.css";

type Verification = Schemas["CardVerification"];

const RESULTS: Record<string, { label: string; tone: "good" | "warn" | "bad"; advice: string }> = {
  valid: { label: "有效会员", tone: "good", advice: "会员身份已确认，可以提供会员服务。" },
  expired: { label: "二维码已过期", tone: "warn", advice: "电子会员卡的二维码 5 分钟内有效。请会员在小程序中刷新会员卡后重新出示。" },
  forged: { label: "无效二维码", tone: "bad", advice: "这不是工友电子会员卡的二维码，或内容已被改动。请不要按会员提供服务。" },
  not_active: { label: "会员资格未生效", tone: "bad", advice: "该会员卡对应的会籍未生效（未入会、已暂停或已退会）。" },
};

/** Decodes the QR in an image file: drawn to a canvas, read with getImageData, given to jsQR. */
async function decodeQr(file: File): Promise<string | null> {
  const bitmap = await createImageBitmap(file);
  try {
    // Phone photos are large: try a reduced copy first (faster, and jsQR copes better), then full size.
    const sides = [1024, 2048].filter((s, i) => i === 0 || Math.max(bitmap.width, bitmap.height) > 1024);
    for (const side of sides) {
      const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
      const w = Math.max(1, Math.round(bitmap.width * scale));
      const h = Math.max(1, Math.round(bitmap.height * scale));
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      if (!ctx) return null;
      ctx.drawImage(bitmap, 0, 0, w, h);
      const img = ctx.getImageData(0, 0, w, h);
      const found = jsQR(img.data, w, h, { inversionAttempts: "attemptBoth" });
      if (found?.data) return found.data;
    }
    return null;
  } finally {
    bitmap.close();
  }
}

export function VerifyCard() {
  const { query } = useLocation();
  const stationId = query.get("station") ?? "";
  const stations = useLoad(() => call(() => api.GET("/api/v1/me/stations")), []);
  const [qr, setQr] = useState("");
  const [decodeNote, setDecodeNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [decoding, setDecoding] = useState(false);
  const [fileKey, setFileKey] = useState(0);
  const [result, setResult] = useState<{ v: Verification; at: string } | null>(null);
  const resultRef = useRef<HTMLDivElement>(null);
  const verify = useAction(async (text: string) => {
    setResult(null);
    const v = await call(() =>
      api.POST("/api/v1/membership/card-verifications", {
        body: { qr: text.trim(), ...(stationId ? { station_id: stationId } : {}) },
      }),
    );
    setResult({ v, at: new Date().toISOString() });
    return v;
  });
  useEffect(() => {
    if (result) resultRef.current?.focus();
  }, [result]);
  const station = stations.data?.items.find((s) => s.id === stationId);

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    setDecoding(true);
    setDecodeNote(null);
    setResult(null);
    verify.clear();
    let text: string | null = null;
    try {
      text = await decodeQr(file);
    } catch {
      text = null;
    }
    setDecoding(false);
    if (!text) {
      setDecodeNote({ ok: false, text: "照片中没有识别到二维码。请让二维码占满画面、保持清晰和光线充足后重拍，或手动粘贴二维码内容。" });
      return;
    }
    setQr(text);
    setDecodeNote({ ok: true, text: "已从照片识别出二维码，正在核验…" });
    await verify.run(text);
  };

  return (
    <>
      <PageTitle title="核验会员卡" />
      <div class="grid2">
        <section class="panel" aria-labelledby="mgr-verify-h">
          <h2 id="mgr-verify-h">扫描或粘贴会员卡二维码</h2>
          <Field
            label="核验地点"
            hint="选择驿站后，有效的会员卡计入该驿站的到访统计。"
          >
            {(p) => (
              <select {...p} value={stationId} onChange={(e) => setQuery({ station: value(e) || undefined })}>
                <option value="">不计入驿站到访</option>
                {stations.data?.items.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
                {stationId && !station && stations.data && <option value={stationId}>（不在我负责的驿站中）</option>}
              </select>
            )}
          </Field>
          <ProblemAlert problem={stations.problem} />
          <Field label="拍照或上传二维码照片" hint="在手机或平板上可直接调用后置摄像头；照片只在本机识别，不会上传。">
            {(p) => (
              <input
                {...p}
                key={fileKey}
                type="file"
                accept="image/*"
                capture="environment"
                disabled={decoding || verify.pending}
                onChange={(e) => void onFile(e.currentTarget.files?.[0])}
              />
            )}
          </Field>
          {decoding && <p role="status">正在识别二维码…</p>}
          {decodeNote && (
            <p class={decodeNote.ok ? "muted" : "field-error"} role={decodeNote.ok ? "status" : "alert"}>
              {decodeNote.text}
            </p>
          )}
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (qr.trim() && !verify.pending) void verify.run(qr);
            }}
          >
            <Field label="二维码内容" hint="用扫码枪扫描后会自动填入；也可粘贴会员出示的二维码文字（以 GYC 开头）。">
              {(p) => (
                <textarea
                  {...p}
                  rows={3}
                  value={qr}
                  spellcheck={false}
                  autoComplete="off"
                  onInput={(e) => {
                    setQr(value(e));
                    setDecodeNote(null);
                  }}
                />
              )}
            </Field>
            <div class="buttons mgr-left">
              <button type="submit" disabled={!qr.trim() || verify.pending}>
                {verify.pending ? "正在核验…" : "核验"}
              </button>
              <button
                type="button"
                class="secondary"
                onClick={() => {
                  setQr("");
                  setResult(null);
                  setDecodeNote(null);
                  setFileKey((k) => k + 1);
                  verify.clear();
                }}
              >
                核验下一张
              </button>
            </div>
          </form>
          <ProblemAlert problem={verify.problem} />
        </section>
        <section class="panel" aria-labelledby="mgr-result-h">
          <h2 id="mgr-result-h">核验结果</h2>
          <div ref={resultRef} tabIndex={-1} aria-live="polite" class="mgr-result-box">
            {result ? <ResultView v={result.v} at={result.at} stationName={station?.name} /> : <p class="muted">尚未核验。</p>}
          </div>
        </section>
      </div>
    </>
  );
}

function ResultView({ v, at, stationName }: { v: Verification; at: string; stationName: string | undefined }) {
  const r = RESULTS[v.result] ?? { label: v.result, tone: "bad" as const, advice: "" };
  return (
    <div class={`mgr-result mgr-result-${r.tone}`}>
      <p class="mgr-result-head">
        <Badge tone={r.tone}>{r.label}</Badge>
      </p>
      {r.advice && <p>{r.advice}</p>}
      <dl class="facts">
        {v.name && (
          <>
            <dt>会员姓名</dt>
            <dd>{v.name}</dd>
          </>
        )}
        {v.card_number && (
          <>
            <dt>会员卡号</dt>
            <dd>{v.card_number}</dd>
          </>
        )}
        {v.org && (
          <>
            <dt>所属工会</dt>
            <dd>{v.org.name}</dd>
          </>
        )}
        <dt>核验时间</dt>
        <dd>{dateTime(at)}</dd>
        {v.result === "valid" && stationName && (
          <>
            <dt>计入到访</dt>
            <dd>{stationName}</dd>
          </>
        )}
      </dl>
    </div>
  );
}
