// Series explorer: pick a measurement and a field, or write AQL; the answer
// as a chart (one line per series and numeric column) and as a table.

import { ident, measurements, numericFields, queryAll } from './api.js';
import { linesOf, align, timeChart } from './chart.js';
import { byId, el, fillSelect, showError, table } from './dom.js';

/** Runs the editor's statements and shows the last one's answer. */
async function run(ctx) {
  const error = byId('ex-error');
  showError(error, null);
  const q = byId('ex-query').value.trim();
  if (!q) return;
  try {
    const results = await queryAll(q, ctx.db());
    const failed = results.find((r) => r.error);
    if (failed) throw new Error(failed.error);
    const series = results.at(-1)?.series ?? [];
    const lines = linesOf(series);
    timeChart(byId('ex-chart'), { data: align(lines), series: lines.map((l) => ({ label: l.label })) });
    const tables = byId('ex-table');
    tables.replaceChildren();
    tables.dataset.rows = String(series.reduce((n, s) => n + (s.values?.length ?? 0), 0));
    for (const s of series) {
      const tags = Object.entries(s.tags ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
      const box = el('div', { class: 'table' });
      tables.append(el('h3', {}, s.name ?? '', tags ? ` (${tags})` : ''), box);
      table(box, s.columns ?? [], s.values ?? []);
    }
    if (series.length === 0) tables.append(el('p', { class: 'empty' }, 'The statement answered no series.'));
  } catch (e) {
    showError(error, e);
  }
}

/** A starting query for the chosen measurement and field. */
function suggest(ctx) {
  const m = byId('ex-measurement').value;
  const f = byId('ex-field').value;
  if (!m) return;
  const field = f ? ident(f) : '*';
  byId('ex-query').value = `SELECT ${field} FROM ${ident(m)} WHERE time > now() - ${ctx.range()}`;
}

export const explorer = {
  id: 'explorer',
  init(ctx) {
    byId('ex-run').addEventListener('click', () => run(ctx));
    byId('ex-query').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        run(ctx);
      }
    });
    byId('ex-measurement').addEventListener('change', async () => {
      await this.loadFields(ctx);
      suggest(ctx);
    });
    byId('ex-field').addEventListener('change', () => {
      suggest(ctx);
      run(ctx);
    });
  },
  async loadFields(ctx) {
    try {
      fillSelect(byId('ex-field'), await numericFields(ctx.db(), byId('ex-measurement').value), { blank: '(all)' });
    } catch (e) {
      showError(byId('ex-error'), e);
    }
  },
  async show(ctx) {
    try {
      fillSelect(byId('ex-measurement'), await measurements(ctx.db()), { blank: '(choose)' });
      await this.loadFields(ctx);
    } catch (e) {
      showError(byId('ex-error'), e);
    }
  },
};
