// Visits per day (check-ins and member-card verifications) as a bar chart drawn in SVG,
// with the same numbers as a table for screen readers and for reading exact values.
import { useId, useState } from "preact/hooks";
import { api, call, type Schemas } from "../../api/client";
import { Field, Loader, useLoad, value } from "../../ui";
import { shanghaiToday } from "./labels";

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

export function Stats({ stationId }: { stationId: string }) {
  const [range, setRange] = useState({ from: shanghaiToday(-29), to: shanghaiToday() });
  const [form, setForm] = useState(range);
  const loaded = useLoad(
    () =>
      call(() =>
        api.GET("/api/v1/stations/{id}/stats", { params: { path: { id: stationId }, query: { from: range.from, to: range.to } } }),
      ),
    [stationId, range.from, range.to],
  );
  const quick = (days: number) => {
    const r = { from: shanghaiToday(-(days - 1)), to: shanghaiToday() };
    setForm(r);
    setRange(r);
  };
  return (
    <section class="panel" id="mgr-stats" aria-labelledby="mgr-stats-h">
      <h2 id="mgr-stats-h">到访统计</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (DATE_RE.test(form.from) && DATE_RE.test(form.to)) setRange(form);
        }}
      >
        <Field label="开始日期">
          {(p) => <input {...p} type="date" value={form.from} onInput={(e) => setForm({ ...form, from: value(e) })} />}
        </Field>
        <Field label="结束日期">
          {(p) => <input {...p} type="date" value={form.to} onInput={(e) => setForm({ ...form, to: value(e) })} />}
        </Field>
        <div class="field">
          <button type="submit" class="secondary mgr-inline-button">
            查看
          </button>
        </div>
      </form>
      <div class="row mgr-quick">
        <span class="muted small">快速选择：</span>
        <button type="button" class="link" onClick={() => quick(7)}>
          最近 7 天
        </button>
        <button type="button" class="link" onClick={() => quick(30)}>
          最近 30 天
        </button>
        <button type="button" class="link" onClick={() => quick(90)}>
          最近 90 天
        </button>
      </div>
      <Loader loaded={loaded}>{(s) => <StatsView stats={s} />}</Loader>
    </section>
  );
}

function StatsView({ stats }: { stats: Schemas["StationStats"] }) {
  const max = Math.max(1, ...stats.days.map((d) => d.visits));
  const busiest = stats.days.reduce<Schemas["DayStats"] | undefined>((b, d) => (!b || d.visits > b.visits ? d : b), undefined);
  return (
    <>
      <dl class="facts mgr-stat-facts">
        <dt>统计期间</dt>
        <dd>
          {stats.from} 至 {stats.to}（{stats.days.length} 天）
        </dd>
        <dt>到访人次</dt>
        <dd>{stats.total_visits}</dd>
        <dt>到访工友（去重）</dt>
        <dd>{stats.distinct_visitors}</dd>
        {busiest && busiest.visits > 0 && (
          <>
            <dt>最多的一天</dt>
            <dd>
              {busiest.date}（{busiest.visits} 人次）
            </dd>
          </>
        )}
      </dl>
      <p class="muted small">到访包括工友扫码签到和在驿站核验电子会员卡。</p>
      <BarChart days={stats.days} max={max} from={stats.from} to={stats.to} />
      <details class="mgr-details">
        <summary>以表格查看每日数据</summary>
        <div class="table-wrap">
          <table>
            <caption>每日到访（{stats.from} 至 {stats.to}）</caption>
            <thead>
              <tr>
                <th scope="col">日期</th>
                <th scope="col" class="num">到访人次</th>
                <th scope="col" class="num">到访工友</th>
              </tr>
            </thead>
            <tbody>
              {stats.days.map((d) => (
                <tr key={d.date}>
                  <th scope="row">{d.date}</th>
                  <td class="num">{d.visits}</td>
                  <td class="num">{d.visitors}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </>
  );
}

/** A nice round top for the axis: 1, 2, 5 × 10^n at or above `max`. */
function niceTop(max: number): number {
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function BarChart({ days, max, from, to }: { days: Schemas["DayStats"][]; max: number; from: string; to: string }) {
  const id = useId();
  const W = 720;
  const H = 220;
  const left = 40;
  const bottom = 28;
  const top = 12;
  const plotW = W - left - 8;
  const plotH = H - top - bottom;
  const yMax = niceTop(max);
  const n = Math.max(days.length, 1);
  const slot = plotW / n;
  const barW = Math.max(1, slot * 0.7);
  const ticks = [0, yMax / 2, yMax].filter((t, i, a) => Number.isInteger(t) && a.indexOf(t) === i);
  const labelEvery = Math.ceil(n / 8);
  const total = days.reduce((s, d) => s + d.visits, 0);
  return (
    <svg
      class="mgr-chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-labelledby={`${id}-t ${id}-d`}
      preserveAspectRatio="xMidYMid meet"
    >
      <title id={`${id}-t`}>每日到访人次柱状图</title>
      <desc id={`${id}-d`}>
        {from} 至 {to} 共 {days.length} 天，合计 {total} 人次，单日最多 {max === 1 && total === 0 ? 0 : max} 人次。每日数字见下方表格。
      </desc>
      {ticks.map((t) => {
        const y = top + plotH - (t / yMax) * plotH;
        return (
          <g key={t} aria-hidden="true">
            <line x1={left} x2={W - 8} y1={y} y2={y} class="mgr-grid" />
            <text x={left - 6} y={y + 4} text-anchor="end" class="mgr-axis">
              {t}
            </text>
          </g>
        );
      })}
      {days.map((d, i) => {
        const h = (d.visits / yMax) * plotH;
        const x = left + i * slot + (slot - barW) / 2;
        return (
          <g key={d.date}>
            <rect x={x} y={top + plotH - h} width={barW} height={Math.max(h, 0)} class="mgr-bar">
              <title>
                {d.date}：{d.visits} 人次，{d.visitors} 位工友
              </title>
            </rect>
            {(i % labelEvery === 0 || (i === n - 1 && i % labelEvery >= labelEvery / 2)) && (
              <text x={x + barW / 2} y={H - 8} text-anchor="middle" class="mgr-axis" aria-hidden="true">
                {d.date.slice(5)}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
