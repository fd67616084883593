// Small DOM helpers: element construction (text only, never HTML strings),
// tables, errors and time formatting.

/** The element with this id. */
export const byId = (id) => document.getElementById(id);

/** A new element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** An epoch in milliseconds as a compact UTC time. */
export function fmtTime(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return String(ms ?? '');
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.000Z$|Z$/, '');
}

/** A cell value for a table. */
function cell(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * Renders rows into `container` as a table. `timeColumns` names the columns
 * holding epochs in milliseconds. Sets `data-rows` to the number of rows.
 */
export function table(container, columns, rows, { timeColumns = ['time'], limit = 1000 } = {}) {
  container.replaceChildren();
  container.dataset.rows = String(rows.length);
  if (rows.length === 0) {
    container.append(el('p', { class: 'empty' }, 'No rows.'));
    return;
  }
  const head = el('tr', {}, columns.map((c) => el('th', {}, c)));
  const body = rows.slice(0, limit).map((r) =>
    el('tr', {}, r.map((v, i) => el('td', {}, timeColumns.includes(columns[i]) ? fmtTime(v) : cell(v)))));
  container.append(el('table', {}, el('thead', {}, head), el('tbody', {}, body)));
  if (rows.length > limit) container.append(el('p', { class: 'empty' }, `${rows.length - limit} more rows not shown.`));
}

/** Shows an error (or clears it with `null`). */
export function showError(node, err) {
  node.textContent = err ? String(err.message ?? err) : '';
  node.hidden = !err;
}

/** Replaces a <select>'s options, keeping the current choice when it still exists. */
export function fillSelect(select, values, { keep = true, blank = null } = {}) {
  const before = select.value;
  const options = values.map((v) => (typeof v === 'string' ? { value: v, label: v } : v));
  select.replaceChildren(
    ...(blank !== null ? [el('option', { value: '' }, blank)] : []),
    ...options.map((o) => el('option', { value: o.value }, o.label)),
  );
  if (keep && options.some((o) => o.value === before)) select.value = before;
}
