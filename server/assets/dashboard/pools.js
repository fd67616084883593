// Pools: each pool's demand (usage), forecast, required, allocated and
// ready capacity over time, from the `_internal` database's `pool`
// measurement, with its scaling actions (`pool_action`) marked.

import { parseSeriesKey, query, request, str, firstColumn } from './api.js';
import { align, linesOf, timeChart } from './chart.js';
import { byId, fillSelect, showError, table } from './dom.js';

const INTERNAL = '_internal';
const COLUMNS = ['usage', 'forecast', 'required', 'allocated', 'ready'];
const STYLE = {
  usage: { stroke: '#1f77b4', width: 2 },
  forecast: { stroke: '#d62728', dash: [6, 4] },
  required: { stroke: '#9467bd', dash: [2, 3] },
  allocated: { stroke: '#2ca02c', width: 2, paths: uPlot.paths.stepped({ align: 1 }) },
  ready: { stroke: '#ff7f0e', paths: uPlot.paths.stepped({ align: 1 }) },
};
const ACTION_COLOR = { scale_up: '#2ca02c', scale_down: '#d62728' };

/** Pools by `tenant/name`: from the API, and from what `_internal` recorded. */
let pools = new Map();

const keyOf = (tenant, name) => `${tenant}/${name}`;

async function loadPools(notes) {
  pools = new Map();
  try {
    for (const p of (await request('/v1/pools')) ?? []) {
      const dims = new Set([...Object.keys(p.capacity ?? {}), ...Object.keys(p.demand ?? {})]);
      pools.set(keyOf(p.tenant, p.name), { tenant: p.tenant, name: p.name, dims, view: p });
    }
  } catch (e) {
    notes.push(`pools API: ${e.message}`);
  }
  try {
    for (const key of firstColumn(await query('SHOW SERIES FROM pool', INTERNAL))) {
      const { tags } = parseSeriesKey(key);
      if (!tags.pool) continue;
      const k = keyOf(tags.tenant ?? '', tags.pool);
      if (!pools.has(k)) pools.set(k, { tenant: tags.tenant ?? '', name: tags.pool, dims: new Set(), view: null });
      if (tags.dimension) pools.get(k).dims.add(tags.dimension);
    }
  } catch (e) {
    notes.push(`monitoring data (${INTERNAL}): ${e.message}`);
  }
}

/** `HH:MM` (UTC) of an RFC 3339 time. */
const clock = (rfc3339) => new Date(rfc3339).toISOString().slice(11, 16);

/** The periodic bursts found in a pool's demand, per dimension, in words,
 * and why no nightly job can be found yet where the pool says so. */
function bursts(view) {
  return Object.entries(view?.demand ?? {})
    .flatMap(([d, { bursts: b, nightly_search: why }]) => [
      ...(b ? [`${d}: ${b.every === '24h0m0s' ? 'nightly job' : `every ${b.every}`}, ` +
        `next ${clock(b.due_from)}–${clock(b.due_to)} UTC, up to ${b.height}` +
        (b.raised_forecast ? ' (provisioned)' : '')] : []),
      ...(why ? [`${d}: ${why}`] : []),
    ])
    .join(' · ');
}

function summary() {
  const rows = [...pools.values()].map((p) => [
    p.tenant,
    p.name,
    p.view ? Object.entries(p.view.units_by_state ?? {}).map(([s, n]) => `${s} ${n}`).join(', ') : '(not defined now)',
    p.view ? Object.entries(p.view.ready_capacity ?? {}).map(([d, v]) => `${d} ${v}`).join(', ') : '',
    p.view?.last_decision?.reason ?? '',
    bursts(p.view),
  ]);
  table(byId('pl-list'), ['tenant', 'pool', 'units', 'ready capacity', 'last decision', 'periodic bursts'], rows);
}

async function chart(ctx) {
  const error = byId('pl-error');
  showError(error, null);
  const pool = pools.get(byId('pl-pool').value);
  const dimension = byId('pl-dimension').value;
  if (!pool || !dimension) return;
  const range = `time > now() - ${ctx.range()}`;
  const who = `tenant = ${str(pool.tenant)} AND pool = ${str(pool.name)}`;
  try {
    const [demand, actions] = await Promise.all([
      query(`SELECT ${COLUMNS.join(', ')} FROM pool WHERE ${who} AND dimension = ${str(dimension)} AND ${range}`, INTERNAL),
      query(`SELECT units, reason FROM pool_action WHERE ${who} AND ${range} GROUP BY action`, INTERNAL),
    ]);
    const lines = linesOf(demand.map((s) => ({ ...s, tags: {} })));
    const markers = actions.flatMap((s) => s.values.map((r) => ({
      t: r[0],
      color: ACTION_COLOR[s.tags?.action] ?? '#555',
      label: s.tags?.action === 'scale_down' ? `▼ −${r[1] ?? ''}` : `▲ +${r[1] ?? ''}`,
    })));
    timeChart(byId('pl-chart'), {
      data: align(lines),
      series: lines.map((l) => ({ ...(STYLE[l.column] ?? {}), label: l.column })),
      markers,
      yLabel: dimension,
    });
    const rows = actions.flatMap((s) => s.values.map((r) => [r[0], s.tags?.action ?? '', r[1], r[2]]));
    rows.sort((a, b) => b[0] - a[0]);
    table(byId('pl-actions'), ['time', 'action', 'units', 'reason'], rows);
  } catch (e) {
    showError(error, e);
  }
}

function fillDimensions() {
  const pool = pools.get(byId('pl-pool').value);
  fillSelect(byId('pl-dimension'), pool ? [...pool.dims].sort() : []);
}

export const poolsView = {
  id: 'pools',
  init(ctx) {
    byId('pl-pool').addEventListener('change', () => {
      fillDimensions();
      chart(ctx);
    });
    byId('pl-dimension').addEventListener('change', () => chart(ctx));
  },
  async show(ctx) {
    const notes = [];
    await loadPools(notes);
    showError(byId('pl-notes'), notes.length ? notes.join('; ') : null);
    summary();
    fillSelect(byId('pl-pool'), [...pools.keys()].sort().map((k) => ({ value: k, label: k })));
    fillDimensions();
    await chart(ctx);
  },
};
