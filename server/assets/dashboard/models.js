// Models: the database's stored forecasting models (SHOW MODELS), their
// accuracy (SHOW FORECAST ACCURACY), and accuracy over time from the
// `_internal` database's `forecast_accuracy` measurement.

import { query, str } from './api.js';
import { align, linesOf, timeChart } from './chart.js';
import { byId, showError, table } from './dom.js';

/** Shows one SHOW statement's first series as a table. */
async function showTable(q, db, container) {
  const [s] = await query(q, db);
  table(container, s?.columns ?? [], s?.values ?? [], { timeColumns: [] });
}

async function accuracy(ctx) {
  const metric = byId('md-metric').value;
  const db = ctx.db();
  const series = await query(
    `SELECT "${metric}" FROM forecast_accuracy WHERE "database" = ${str(db)} AND time > now() - ${ctx.range()} GROUP BY "model", "key"`,
    '_internal',
  );
  const lines = series.flatMap((s) => linesOf([s]).map((l) => ({ ...l, label: `${s.tags?.model ?? ''} ${s.tags?.key ?? ''}` })));
  timeChart(byId('md-chart'), { data: align(lines), series: lines.map((l) => ({ label: l.label })), yLabel: metric });
}

export const models = {
  id: 'models',
  init(ctx) {
    byId('md-metric').addEventListener('change', () => this.show(ctx));
  },
  async show(ctx) {
    const db = ctx.db();
    if (!db) return;
    const error = byId('md-error');
    const problems = [];
    const attempt = (p) => p.catch((e) => problems.push(e.message));
    await Promise.all([
      attempt(showTable('SHOW MODELS', db, byId('md-models'))),
      attempt(showTable('SHOW FORECAST ACCURACY', db, byId('md-accuracy'))),
      attempt(accuracy(ctx)),
    ]);
    showError(error, problems.length ? problems.join('; ') : null);
  },
};
