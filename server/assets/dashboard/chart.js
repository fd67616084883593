// Charts on uPlot (vendored, loaded as the global `uPlot`). Every chart
// container records what it plotted for tests and tools: `data-points` (the
// number of x values), `data-series` (lines) and `data-markers`.

import { el } from './dom.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];
const HEIGHT = 320;

/** The chart currently drawn in each container. */
const live = new Map();

window.addEventListener('resize', () => {
  for (const [container, plot] of live) plot.setSize({ width: widthOf(container), height: HEIGHT });
});

function widthOf(container) {
  return Math.max(320, container.clientWidth || container.parentElement?.clientWidth || 800);
}

/**
 * Aligns lines `[{label, points: [[ms, value], ...]}]` on one sorted x axis
 * (seconds, as uPlot wants); missing values are null.
 */
export function align(lines) {
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = lines.map((l) => {
    const y = new Array(xs.length).fill(null);
    for (const [t, v] of l.points) y[index.get(t)] = typeof v === 'number' ? v : null;
    return y;
  });
  return [xs.map((x) => x / 1000), ...ys];
}

/** A series' label: its name, its tags, and the column when there are several. */
function labelOf(s, column, columns) {
  const tags = Object.entries(s.tags ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  const name = tags ? `${s.name}{${tags}}` : s.name;
  return columns > 1 ? `${name}.${column}` : name;
}

/** One line (`{label, column, points}`) per numeric column of every series of a query result. */
export function linesOf(series) {
  const lines = [];
  for (const s of series) {
    const cols = s.columns ?? [];
    const t = cols.indexOf('time');
    if (t < 0) continue;
    const numeric = cols
      .map((c, i) => i)
      .filter((i) => i !== t && (s.values ?? []).some((r) => typeof r[i] === 'number'));
    for (const i of numeric) {
      lines.push({ label: labelOf(s, cols[i], numeric.length), column: cols[i], points: (s.values ?? []).map((r) => [r[t], r[i]]) });
    }
  }
  return lines;
}

/** Vertical lines at marker times (`{t: ms, color, label}`), drawn after the series. */
function markerHook(markers) {
  return (u) => {
    const { ctx } = u;
    const { top, height } = u.bbox;
    ctx.save();
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.font = `${11 * devicePixelRatio}px sans-serif`;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    for (const m of markers) {
      const x = Math.round(u.valToPos(m.t / 1000, 'x', true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.strokeStyle = m.color;
      ctx.fillStyle = m.color;
      ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      if (m.label) ctx.fillText(m.label, x + 3 * devicePixelRatio, top + 2 * devicePixelRatio);
    }
    ctx.restore();
  };
}

/**
 * Draws a time chart into `container`, replacing what was there.
 * `data` is uPlot's `[xs, ...ys]`; `series` one `{label, ...uPlot series options}` per y;
 * `bands` uPlot bands; `markers` vertical lines.
 */
export function timeChart(container, { data, series, bands = [], markers = [], yLabel = '' }) {
  live.get(container)?.destroy();
  live.delete(container);
  container.replaceChildren();
  const points = data[0]?.length ?? 0;
  container.dataset.points = String(points);
  container.dataset.series = String(series.length);
  container.dataset.markers = String(markers.length);
  if (points === 0) {
    container.append(el('p', { class: 'empty' }, 'No data in this range.'));
    return;
  }
  const opts = {
    width: widthOf(container),
    height: HEIGHT,
    series: [
      {},
      ...series.map((s, i) => ({
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: false,
        ...s,
      })),
    ],
    axes: [{}, { label: yLabel, size: 60 }],
    bands,
    hooks: markers.length ? { draw: [markerHook(markers)] } : {},
    cursor: { drag: { x: true, y: false } },
  };
  live.set(container, new uPlot(opts, data, container));
}

/** A points-only series (no line between points): markers that have values. */
export const pointsOnly = (label, color) => ({
  label,
  stroke: color,
  fill: color,
  paths: () => null,
  points: { show: true, size: 9, stroke: color, fill: color },
});
