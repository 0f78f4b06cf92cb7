// One station: what workers see of it, and the manager's edits — status, notice, amenities,
// opening hours (saved with PATCH against the version read: If-Match), a movable station's
// position, photos, its QR code, visits per day and the workers' reports.
import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../../api/client";
import { Link } from "../../router";
import { Badge, Dialog, DialogButtons, Field, Loader, PageTitle, ProblemAlert, dateTime, notify, useAction, useLoad, value } from "../../ui";
import { HoursEditor, hoursValid } from "./HoursEditor";
import {
  AMENITIES,
  STATUSES,
  WEEKDAYS,
  amenityLabel,
  fromLocalInput,
  hoursOf,
  ifMatch,
  isAmenity,
  spansText,
  statusLabel,
  statusTone,
  toLocalInput,
  typeLabel,
  type Amenity,
  type HoursSpec,
  type Station,
  type StationStatus,
} from "./labels";
import { Reports } from "./Reports";
import { Stats } from "./Stats";
import "./manager.css";

export function StationPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const loaded = useLoad(() => call(() => api.GET("/api/v1/stations/{id}", { params: { path: { id } } })), [id]);
  // The answer of the last edit (PATCH, move, code rotation) until a reload reads newer.
  const [fresh, setFresh] = useState<Station | undefined>(undefined);
  const station = fresh && (!loaded.data || fresh.version >= loaded.data.version) ? fresh : loaded.data;
  // A link to a part of the page (…#mgr-reports) scrolls there once the station has loaded.
  const loadedOnce = station !== undefined;
  useEffect(() => {
    const hash = window.location.hash.slice(1);
    if (loadedOnce && hash.startsWith("mgr-")) document.getElementById(hash)?.scrollIntoView();
  }, [loadedOnce]);
  const reload = () => {
    setFresh(undefined);
    loaded.reload();
  };
  return (
    <Loader loaded={{ ...loaded, data: station }}>
      {(s) => (
        <>
          <PageTitle title={s.name}>
            <Link to={`/stations/verify-card?station=${encodeURIComponent(s.id)}`} class="button secondary">
              在此驿站核验会员卡
            </Link>
            <Link to="/stations" class="button secondary">
              返回我的驿站
            </Link>
          </PageTitle>
          <nav class="mgr-toc" aria-label="本页内容">
            <a href="#mgr-overview">概况</a>
            <a href="#mgr-edit">编辑驿站信息</a>
            {s.type === "movable" && <a href="#mgr-location">更新位置</a>}
            <a href="#mgr-photos">照片</a>
            <a href="#mgr-code">签到二维码</a>
            <a href="#mgr-stats">到访统计</a>
            <a href="#mgr-reports">问题反馈</a>
          </nav>
          <Overview s={s} />
          <EditStation key={`${s.id}-${s.version}`} s={s} onSaved={setFresh} onReload={reload} />
          {s.type === "movable" && <MoveStation key={`loc-${s.version}`} s={s} onMoved={setFresh} />}
          <Photos s={s} onAdded={reload} />
          <StationCode s={s} onRotated={setFresh} />
          <Stats stationId={s.id} />
          <Reports stationId={s.id} />
        </>
      )}
    </Loader>
  );
}

function Overview({ s }: { s: Station }) {
  const hours = hoursOf(s);
  return (
    <section class="panel" id="mgr-overview" aria-labelledby="mgr-overview-h">
      <h2 id="mgr-overview-h">概况（工友看到的信息）</h2>
      <div class="grid2">
        <dl class="facts">
          <dt>类型</dt>
          <dd>{typeLabel(s.type)}</dd>
          <dt>状态</dt>
          <dd>
            <Badge tone={statusTone(s.status)}>{statusLabel(s.status)}</Badge>{" "}
            {s.open_now ? <Badge tone="good">现在营业中</Badge> : <Badge>现在未营业</Badge>}
            {s.status === "temporarily_closed" && (
              <div class="small">预计恢复开放：{s.reopens_at ? dateTime(s.reopens_at) : "暂不确定"}</div>
            )}
          </dd>
          <dt>今日时段</dt>
          <dd>
            {spansText(s.today_hours)}
            {s.status !== "open" && <span class="muted small">（{statusLabel(s.status)}期间不开放）</span>}
          </dd>
          <dt>公告</dt>
          <dd>{s.notice || <span class="muted">无</span>}</dd>
          <dt>地址</dt>
          <dd>
            {s.address}（{s.region_name}）
          </dd>
          <dt>坐标</dt>
          <dd>
            {s.lat.toFixed(6)}, {s.lng.toFixed(6)} <span class="muted small">GCJ-02</span>
          </dd>
          <dt>联系电话</dt>
          <dd>{s.contact_phone || <span class="muted">未填写</span>}</dd>
          <dt>可容纳人数</dt>
          <dd>{s.capacity ?? <span class="muted">未填写</span>}</dd>
          <dt>运营单位</dt>
          <dd>{s.org.name}</dd>
          <dt>管理员</dt>
          <dd>{s.managers?.map((m) => m.display_name).join("、") || "—"}</dd>
          <dt>最后更新</dt>
          <dd>
            {dateTime(s.updated_at)} <span class="muted small">（第 {s.version} 版）</span>
          </dd>
        </dl>
        <div>
          <div class="table-wrap">
            <table class="mgr-hours-table">
              <caption>每周开放时间</caption>
              <tbody>
                {WEEKDAYS.map(({ key, label }) => (
                  <tr key={key}>
                    <th scope="row">{label}</th>
                    <td>{spansText(hours.weekly[key] ?? [])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {(hours.exceptions ?? []).length > 0 && (
            <div class="table-wrap mgr-gap">
              <table>
                <caption>特殊日期</caption>
                <thead>
                  <tr>
                    <th scope="col">日期</th>
                    <th scope="col">安排</th>
                  </tr>
                </thead>
                <tbody>
                  {(hours.exceptions ?? []).map((e) => (
                    <tr key={e.date}>
                      <th scope="row">{e.date}</th>
                      <td>{e.spans.length === 0 ? "全天休息" : spansText(e.spans)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <p class="small muted">设施：{s.amenities.length ? s.amenities.map(amenityLabel).join("、") : "未填写"}</p>
        </div>
      </div>
    </section>
  );
}

interface Draft {
  status: StationStatus;
  reopensAt: string;
  notice: string;
  amenities: Amenity[];
  hours: HoursSpec;
  name: string;
  address: string;
  contactPhone: string;
  capacity: string;
}

function draftOf(s: Station): Draft {
  const status = STATUSES.find((x) => x.code === s.status)?.code ?? "open";
  return {
    status,
    reopensAt: toLocalInput(s.reopens_at),
    notice: s.notice ?? "",
    amenities: s.amenities.filter(isAmenity),
    hours: hoursOf(s),
    name: s.name,
    address: s.address,
    contactPhone: s.contact_phone ?? "",
    capacity: s.capacity === null || s.capacity === undefined ? "" : String(s.capacity),
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Only what changed, so an edit says what it meant to change. */
function patchOf(before: Draft, d: Draft): Schemas["StationPatch"] {
  const p: Schemas["StationPatch"] = {};
  if (d.status !== before.status) p.status = d.status;
  const reopens = d.status === "temporarily_closed" ? fromLocalInput(d.reopensAt) : null;
  const reopensBefore = before.status === "temporarily_closed" ? fromLocalInput(before.reopensAt) : null;
  if (d.status === "temporarily_closed" && (reopens !== reopensBefore || d.status !== before.status)) p.reopens_at = reopens;
  if (d.status !== "temporarily_closed" && before.status === "temporarily_closed") p.reopens_at = null;
  if (d.notice.trim() !== before.notice.trim()) p.notice = d.notice.trim() === "" ? null : d.notice.trim();
  if (!same([...d.amenities].sort(), [...before.amenities].sort())) {
    p.amenities = AMENITIES.map((a) => a.code).filter((c) => d.amenities.includes(c));
  }
  if (!same(d.hours, before.hours)) p.hours = d.hours;
  if (d.name.trim() !== before.name) p.name = d.name.trim();
  if (d.address.trim() !== before.address) p.address = d.address.trim();
  if (d.contactPhone.trim() !== before.contactPhone) p.contact_phone = d.contactPhone.trim() === "" ? null : d.contactPhone.trim();
  if (d.capacity.trim() !== before.capacity) p.capacity = d.capacity.trim() === "" ? null : Number(d.capacity.trim());
  return p;
}

function EditStation({ s, onSaved, onReload }: { s: Station; onSaved: (s: Station) => void; onReload: () => void }) {
  const [before] = useState(() => draftOf(s));
  const [d, setD] = useState<Draft>(before);
  const [tried, setTried] = useState(false);
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setD((o) => ({ ...o, [k]: v }));
  const patch = patchOf(before, d);
  const dirty = Object.keys(patch).length > 0;
  const save = useAction(async () => {
    const updated = await call(() =>
      api.PATCH("/api/v1/stations/{id}", {
        params: { path: { id: s.id }, header: { "If-Match": ifMatch(s) } },
        body: patch,
      }),
    );
    notify(`已保存“${updated.name}”，工友端即刻可见`);
    onSaved(updated);
    return updated;
  });
  const capacityErr =
    d.capacity.trim() !== "" && !/^\d{1,5}$/.test(d.capacity.trim()) ? "请填写 0 至 10000 的整数" : undefined;
  const phoneErr =
    d.contactPhone.trim() !== "" && !/^(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$/.test(d.contactPhone.trim())
      ? "请填写手机号或带区号的座机号，如 028-86612345"
      : undefined;
  const nameErr = d.name.trim().length < 2 ? "名称须为 2 至 40 个字符" : undefined;
  const addressErr = d.address.trim().length < 2 ? "地址须为 2 至 120 个字符" : undefined;
  const reopensErr =
    d.status === "temporarily_closed" && d.reopensAt !== "" && !fromLocalInput(d.reopensAt) ? "请填写完整的日期和时间" : undefined;
  const valid = hoursValid(d.hours) && !capacityErr && !phoneErr && !nameErr && !addressErr && !reopensErr;
  // Leaving the console with unsaved edits asks first (in-console links do not).
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  const stale = save.problem?.status === 412 || save.problem?.code === "station.version_mismatch";
  return (
    <section class="panel" id="mgr-edit" aria-labelledby="mgr-edit-h">
      <h2 id="mgr-edit-h">编辑驿站信息</h2>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setTried(true);
          if (!valid || !dirty || save.pending) return;
          void save.run();
        }}
      >
        <fieldset>
          <legend>开放状态与公告</legend>
          <div class="grid2">
            <Field label="开放状态" hint="“暂停开放”与“已关闭”时，工友端显示不营业，每周时间不生效。">
              {(p) => (
                <select {...p} value={d.status} onChange={(e) => set("status", STATUSES.find((x) => x.code === value(e))?.code ?? "open")}>
                  {STATUSES.map((x) => (
                    <option key={x.code} value={x.code}>
                      {x.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {d.status === "temporarily_closed" && (
              <Field label="预计恢复开放时间" hint="北京时间；不填表示暂不确定。" error={reopensErr}>
                {(p) => <input {...p} type="datetime-local" value={d.reopensAt} onInput={(e) => set("reopensAt", value(e))} />}
              </Field>
            )}
          </div>
          <Field label="公告" hint={`工友在驿站详情中看到，如“今日提供绿豆汤”。${d.notice.length}/200 字`}>
            {(p) => <textarea {...p} rows={2} maxLength={200} value={d.notice} onInput={(e) => set("notice", value(e))} />}
          </Field>
        </fieldset>

        <HoursEditor hours={d.hours} onChange={(h) => set("hours", h)} />

        <fieldset>
          <legend>设施与服务</legend>
          <div class="mgr-amenities">
            {AMENITIES.map((a) => (
              <label class="check" key={a.code}>
                <input
                  type="checkbox"
                  checked={d.amenities.includes(a.code)}
                  onChange={(e) =>
                    set(
                      "amenities",
                      e.currentTarget.checked ? [...d.amenities, a.code] : d.amenities.filter((c) => c !== a.code),
                    )
                  }
                />
                {a.label}
              </label>
            ))}
          </div>
        </fieldset>

        <fieldset>
          <legend>基本信息</legend>
          <div class="grid2">
            <Field label="驿站名称" error={tried ? nameErr : undefined}>
              {(p) => <input {...p} maxLength={40} value={d.name} onInput={(e) => set("name", value(e))} />}
            </Field>
            <Field label="地址" error={tried ? addressErr : undefined}>
              {(p) => <input {...p} maxLength={120} value={d.address} onInput={(e) => set("address", value(e))} />}
            </Field>
            <Field label="联系电话" hint="手机号或座机号（选填）" error={phoneErr}>
              {(p) => <input {...p} type="tel" value={d.contactPhone} onInput={(e) => set("contactPhone", value(e))} />}
            </Field>
            <Field label="可容纳人数" hint="选填" error={capacityErr}>
              {(p) => <input {...p} inputMode="numeric" value={d.capacity} onInput={(e) => set("capacity", value(e))} />}
            </Field>
          </div>
        </fieldset>

        <ProblemAlert problem={save.problem} />
        {stale && (
          <p>
            <button type="button" class="secondary" onClick={onReload}>
              载入最新版本（放弃我的修改）
            </button>
          </p>
        )}
        {tried && !valid && (
          <p class="field-error" role="alert">
            有填写不正确的项目，请按提示修改后再保存。
          </p>
        )}
        <div class="buttons mgr-save">
          <button type="submit" disabled={save.pending || !dirty}>
            {save.pending ? "正在保存…" : "保存修改"}
          </button>
          <button type="button" class="secondary" disabled={!dirty || save.pending} onClick={() => { setD(before); setTried(false); save.clear(); }}>
            撤销修改
          </button>
          <span class="muted small" aria-live="polite">
            {dirty ? "有未保存的修改" : "没有未保存的修改"}
          </span>
        </div>
      </form>
    </section>
  );
}

function MoveStation({ s, onMoved }: { s: Station; onMoved: (s: Station) => void }) {
  const [lat, setLat] = useState("");
  const [lng, setLng] = useState("");
  const [coord, setCoord] = useState<"gcj02" | "wgs84">("gcj02");
  const latN = Number(lat);
  const lngN = Number(lng);
  const latErr = lat !== "" && (!/^-?\d+(\.\d+)?$/.test(lat.trim()) || latN < -90 || latN > 90) ? "纬度须在 -90 至 90 之间，如 30.657" : undefined;
  const lngErr = lng !== "" && (!/^-?\d+(\.\d+)?$/.test(lng.trim()) || lngN < -180 || lngN > 180) ? "经度须在 -180 至 180 之间，如 104.066" : undefined;
  const move = useAction(async () => {
    const moved = await call(() =>
      api.PUT("/api/v1/stations/{id}/location", {
        params: { path: { id: s.id } },
        body: { lat: latN, lng: lngN, coord },
      }),
    );
    notify("位置已更新，工友搜索附近驿站时按新位置显示");
    onMoved(moved);
  });
  return (
    <section class="panel" id="mgr-location" aria-labelledby="mgr-location-h">
      <h2 id="mgr-location-h">更新位置（流动驿站）</h2>
      <p>
        当前位置：{s.lat.toFixed(6)}, {s.lng.toFixed(6)}（GCJ-02）
      </p>
      <p class="muted small">
        坐标请使用 GCJ-02（国测局坐标），即高德地图、腾讯地图、微信定位给出的坐标：在地图上长按或右键位置即可复制经纬度。
        若坐标来自 GPS 设备（WGS-84），请在“坐标系”中选择 WGS-84，系统会自动换算。
      </p>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (lat === "" || lng === "" || latErr || lngErr || move.pending) return;
          void move.run();
        }}
      >
        <div class="filters">
          <Field label="纬度（lat）" error={latErr}>
            {(p) => <input {...p} inputMode="decimal" placeholder="30.657000" value={lat} onInput={(e) => setLat(value(e).trim())} />}
          </Field>
          <Field label="经度（lng）" error={lngErr}>
            {(p) => <input {...p} inputMode="decimal" placeholder="104.066000" value={lng} onInput={(e) => setLng(value(e).trim())} />}
          </Field>
          <Field label="坐标系">
            {(p) => (
              <select {...p} value={coord} onChange={(e) => setCoord(value(e) === "wgs84" ? "wgs84" : "gcj02")}>
                <option value="gcj02">GCJ-02（高德、腾讯地图）</option>
                <option value="wgs84">WGS-84（GPS 设备）</option>
              </select>
            )}
          </Field>
          <div class="field">
            <button type="submit" class="mgr-inline-button" disabled={move.pending || lat === "" || lng === "" || Boolean(latErr || lngErr)}>
              {move.pending ? "正在更新…" : "更新位置"}
            </button>
          </div>
        </div>
        <ProblemAlert problem={move.problem} />
      </form>
      {s.recent_locations.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption>最近的位置（新的在前）</caption>
            <thead>
              <tr>
                <th scope="col">时间</th>
                <th scope="col" class="num">纬度</th>
                <th scope="col" class="num">经度</th>
              </tr>
            </thead>
            <tbody>
              {s.recent_locations.map((l) => (
                <tr key={l.recorded_at}>
                  <td>{dateTime(l.recorded_at)}</td>
                  <td class="num">{l.lat.toFixed(6)}</td>
                  <td class="num">{l.lng.toFixed(6)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Photos({ s, onAdded }: { s: Station; onAdded: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [inputKey, setInputKey] = useState(0);
  const upload = useAction(async (f: File) => {
    const form = new FormData();
    form.append("file", f, f.name);
    await call(() =>
      api.POST("/api/v1/stations/{id}/photos", {
        params: { path: { id: s.id } },
        // multipart/form-data: the browser writes the boundary; `file` is the one part.
        body: { file: f.name },
        bodySerializer: () => form,
      }),
    );
    notify("照片已上传");
    setFile(null);
    setInputKey((k) => k + 1);
    onAdded();
  });
  return (
    <section class="panel" id="mgr-photos" aria-labelledby="mgr-photos-h">
      <h2 id="mgr-photos-h">照片</h2>
      {s.photos.length === 0 ? (
        <p class="muted">还没有照片。上传门头和室内照片，方便工友找到驿站。</p>
      ) : (
        <ul class="mgr-photos">
          {s.photos.map((p, i) => (
            <li key={p.id}>
              <a href={p.url} target="_blank" rel="noopener">
                <img src={p.url} alt={`${s.name} 照片 ${i + 1}`} loading="lazy" />
              </a>
            </li>
          ))}
        </ul>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (file && !upload.pending) void upload.run(file);
        }}
      >
        <div class="row mgr-upload">
          <Field label="选择照片" hint="JPEG、PNG 或 WebP 格式">
            {(p) => (
              <input
                {...p}
                key={inputKey}
                type="file"
                accept="image/jpeg,image/png,image/webp"
                onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
              />
            )}
          </Field>
          <div class="field">
            <button type="submit" class="mgr-inline-button" disabled={!file || upload.pending}>
              {upload.pending ? "正在上传…" : "上传照片"}
            </button>
          </div>
        </div>
        <ProblemAlert problem={upload.problem} />
      </form>
    </section>
  );
}

function StationCode({ s, onRotated }: { s: Station; onRotated: (s: Station) => void }) {
  const [confirming, setConfirming] = useState(false);
  const rotate = useAction(async () => {
    const r = await call(() => api.POST("/api/v1/stations/{id}/code-rotations", { params: { path: { id: s.id } } }));
    notify("已更换签到二维码，旧二维码即刻失效");
    setConfirming(false);
    onRotated(r);
  });
  return (
    <section class="panel" id="mgr-code" aria-labelledby="mgr-code-h">
      <h2 id="mgr-code-h">签到二维码</h2>
      <p class="muted small">
        工友扫描驿站张贴的二维码签到。二维码内容如下（可交给印制方生成海报）；若二维码被冒用，可更换，旧二维码即刻失效，请重新张贴。
      </p>
      {s.station_code ? (
        <p>
          <code class="mgr-code">{s.station_code}</code>
        </p>
      ) : (
        <p class="muted">您无权查看此驿站的二维码。</p>
      )}
      <button type="button" class="danger" onClick={() => { rotate.clear(); setConfirming(true); }}>
        更换签到二维码
      </button>
      {confirming && (
        <Dialog title="更换签到二维码？" onClose={() => setConfirming(false)}>
          <p>更换后，驿站现在张贴的二维码立即不能签到，需要打印并张贴新的二维码。</p>
          <ProblemAlert problem={rotate.problem} />
          <DialogButtons onCancel={() => setConfirming(false)} label="确认更换" pending={rotate.pending} pendingLabel="正在更换…" danger onConfirm={() => void rotate.run()} />
        </Dialog>
      )}
    </section>
  );
}
