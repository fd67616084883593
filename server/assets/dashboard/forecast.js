// Forecast: the actuals of one field (mean per bucket) with forecast()'s
// prediction and its band (lower_<level> .. upper_<level>) ahead of them,
// and the anomalies flagged on the series marked.

import { ident, measurements, numericFields, queryAll, str } from './api.js';
import { align, timeChart } from './chart.js';
import { byId, fillSelect, showError } from './dom.js';

/**
 * The three statements: actuals per bucket, the forecast, and the anomalies
 * flagged on the series (they carry its tags, so the same condition applies).
 */
export function forecastQueries({ measurement, field, where, range, every, horizon, model, level }) {
  const cond = `time > now() - ${range}${where ? ` AND (${where})` : ''}`;
  const from = `FROM ${ident(measurement)} WHERE ${cond}`;
  return [
    `SELECT mean(${ident(field)}) AS actual ${from} GROUP BY time(${every}) fill(none)`,
    `SELECT forecast(mean(${ident(field)}), ${horizon}, model => '${model}', level => ${level}) ${from} GROUP BY time(${every})`,
    `SELECT "value" FROM anomalies WHERE "measurement" = ${str(measurement)} AND "field" = ${str(field)} AND ${cond} GROUP BY "kind"`,
  ];
}

/** `[[ms, value], ...]` of one column across every series of a result. */
function column(result, name) {
  return (result?.series ?? []).flatMap((s) => {
    const t = s.columns.indexOf('time');
    const i = typeof name === 'function' ? s.columns.findIndex(name) : s.columns.indexOf(name);
    return i < 0 ? [] : s.values.map((r) => [r[t], r[i]]);
  });
}

async function run(ctx) {
  const error = byId('fc-error');
  showError(error, null);
  const params = {
    measurement: byId('fc-measurement').value,
    field: byId('fc-field').value,
    where: byId('fc-where').value.trim(),
    range: ctx.range(),
    every: byId('fc-every').value.trim() || '1m',
    horizon: byId('fc-horizon').value.trim() || '12',
    model: byId('fc-model').value,
    level: byId('fc-level').value.trim() || '95',
  };
  if (!params.measurement || !params.field) return;
  const qs = forecastQueries(params);
  byId('fc-query').textContent = qs.join(';\n');
  try {
    const [actual, forecast, anomalies] = await queryAll(qs.join('; '), ctx.db());
    for (const r of [actual, forecast, anomalies]) if (r?.error) throw new Error(r.error);
    const markers = (anomalies?.series ?? []).flatMap((s) =>
      s.values.map((r) => ({ t: r[0], color: '#9467bd', label: `anomaly (${s.tags?.kind ?? ''})` })));
    const lines = [
      { label: 'actual', points: column(actual, 'actual') },
      { label: 'forecast', points: column(forecast, 'forecast') },
      { label: `lower ${params.level}%`, points: column(forecast, (c) => c.startsWith('lower')) },
      { label: `upper ${params.level}%`, points: column(forecast, (c) => c.startsWith('upper')) },
    ];
    const chart = byId('fc-chart');
    timeChart(chart, {
      data: align(lines),
      series: [
        { label: 'actual', stroke: '#1f77b4', width: 2 },
        { label: 'forecast', stroke: '#d62728', width: 2, dash: [6, 4] },
        { label: lines[2].label, stroke: '#f4a6a6', width: 1 },
        { label: lines[3].label, stroke: '#f4a6a6', width: 1 },
      ],
      bands: [{ series: [4, 3], fill: 'rgba(214, 39, 40, 0.15)' }],
      markers,
    });
    chart.dataset.actualPoints = String(lines[0].points.length);
    chart.dataset.forecastPoints = String(lines[1].points.length);
  } catch (e) {
    showError(error, e);
  }
}

export const forecast = {
  id: 'forecast',
  init(ctx) {
    byId('fc-run').addEventListener('click', () => run(ctx));
    byId('fc-measurement').addEventListener('change', () => this.loadFields(ctx));
  },
  async loadFields(ctx) {
    try {
      fillSelect(byId('fc-field'), await numericFields(ctx.db(), byId('fc-measurement').value));
    } catch (e) {
      showError(byId('fc-error'), e);
    }
  },
  async show(ctx) {
    try {
      fillSelect(byId('fc-measurement'), await measurements(ctx.db()), { blank: '(choose)' });
      await this.loadFields(ctx);
      if (byId('fc-measurement').value && byId('fc-field').value) await run(ctx);
    } catch (e) {
      showError(byId('fc-error'), e);
    }
  },
};
