// Anomalies: the chosen database's `anomalies` measurement as a table, and
// the anomalous series with its anomalies marked.

import { ident, query, str } from './api.js';
import { align, pointsOnly, timeChart } from './chart.js';
import { byId, fillSelect, showError, table } from './dom.js';

const VALUES = ['value', 'expected', 'lower', 'upper', 'score', 'steps'];

/** Anomalies grouped by the series they are about (measurement, field, group tags). */
let groups = new Map();

/** The series' own tags of an anomaly (everything but measurement, field, kind). */
function groupTags(tags) {
  return Object.fromEntries(Object.entries(tags).filter(([k]) => !['measurement', 'field', 'kind'].includes(k)).sort());
}

async function load(ctx) {
  const series = await query(`SELECT * FROM anomalies WHERE time > now() - ${ctx.range()} GROUP BY *`, ctx.db());
  const rows = [];
  groups = new Map();
  for (const s of series) {
    const tags = s.tags ?? {};
    const own = groupTags(tags);
    const key = JSON.stringify([tags.measurement, tags.field, own]);
    if (!groups.has(key)) groups.set(key, { measurement: tags.measurement, field: tags.field, tags: own, anomalies: [] });
    const at = (r, c) => r[s.columns.indexOf(c)];
    for (const r of s.values) {
      rows.push([r[0], tags.measurement, tags.field, tags.kind,
        Object.entries(own).map(([k, v]) => `${k}=${v}`).join(','), ...VALUES.map((c) => at(r, c))]);
      groups.get(key).anomalies.push({ t: r[0], value: at(r, 'value'), kind: tags.kind });
    }
  }
  rows.sort((a, b) => b[0] - a[0]);
  table(byId('an-table'), ['time', 'measurement', 'field', 'kind', 'tags', ...VALUES], rows);
  fillSelect(byId('an-series'), [...groups.entries()].map(([k, g]) => ({
    value: k,
    label: `${g.measurement}.${g.field} ${Object.entries(g.tags).map(([t, v]) => `${t}=${v}`).join(',')}`,
  })));
}

async function chart(ctx) {
  const g = groups.get(byId('an-series').value);
  if (!g) {
    timeChart(byId('an-chart'), { data: [[]], series: [] });
    return;
  }
  const where = [`time > now() - ${ctx.range()}`, ...Object.entries(g.tags).map(([k, v]) => `${ident(k)} = ${str(v)}`)];
  const series = await query(`SELECT ${ident(g.field)} FROM ${ident(g.measurement)} WHERE ${where.join(' AND ')}`, ctx.db());
  const points = series.flatMap((s) => s.values.map((r) => [r[0], r[1]]));
  const byKind = (kind) => g.anomalies.filter((a) => a.kind === kind).map((a) => [a.t, a.value]);
  const kinds = [...new Set(g.anomalies.map((a) => a.kind))].sort();
  const colors = ['#d62728', '#ff7f0e', '#9467bd'];
  timeChart(byId('an-chart'), {
    data: align([{ points }, ...kinds.map((k) => ({ points: byKind(k) }))]),
    series: [{ label: g.field, stroke: '#1f77b4' }, ...kinds.map((k, i) => pointsOnly(`anomaly (${k})`, colors[i % 3]))],
  });
  byId('an-chart').dataset.markers = String(g.anomalies.length);
}

export const anomalies = {
  id: 'anomalies',
  init(ctx) {
    byId('an-series').addEventListener('change', () => chart(ctx).catch((e) => showError(byId('an-error'), e)));
  },
  async show(ctx) {
    const error = byId('an-error');
    showError(error, null);
    if (!ctx.db()) return;
    try {
      await load(ctx);
      await chart(ctx);
    } catch (e) {
      showError(error, e);
    }
  },
};
