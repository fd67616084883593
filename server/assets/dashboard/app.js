// The dashboard's entry point: the database and range pickers, the tabs,
// and one view per tab (each a module with `init(ctx)` and `show(ctx)`).

import { firstColumn, query, signOut } from './api.js';
import { byId, fillSelect, showError } from './dom.js';
import { explorer } from './explorer.js';
import { forecast } from './forecast.js';
import { poolsView } from './pools.js';
import { models } from './models.js';
import { webhooks } from './webhooks.js';
import { anomalies } from './anomalies.js';

const VIEWS = [explorer, forecast, poolsView, models, webhooks, anomalies];
const DB_KEY = 'augur.db';

const ctx = {
  db: () => byId('db').value,
  range: () => byId('range').value,
};

let current = null;

async function activate(id) {
  const view = VIEWS.find((v) => v.id === id) ?? VIEWS[0];
  current = view;
  for (const v of VIEWS) {
    byId(`view-${v.id}`).hidden = v !== view;
    document.querySelector(`nav button[data-view="${v.id}"]`)?.setAttribute('aria-selected', String(v === view));
  }
  if (location.hash !== `#${view.id}`) history.replaceState(null, '', `#${view.id}`);
  const section = byId(`view-${view.id}`);
  section.dataset.ready = 'false';
  try {
    await view.show(ctx);
  } finally {
    // Set once the view's queries have answered and its charts are drawn.
    if (current === view) section.dataset.ready = 'true';
  }
}

async function loadDatabases() {
  try {
    const names = firstColumn(await query('SHOW DATABASES')).filter((d) => d !== '_internal');
    fillSelect(byId('db'), names);
    const saved = sessionStorage.getItem(DB_KEY);
    if (saved && names.includes(saved)) byId('db').value = saved;
    showError(byId('status'), null);
  } catch (e) {
    showError(byId('status'), e);
  }
}

async function main() {
  for (const v of VIEWS) v.init(ctx);
  for (const b of document.querySelectorAll('nav button[data-view]')) {
    b.addEventListener('click', () => activate(b.dataset.view));
  }
  byId('db').addEventListener('change', () => {
    sessionStorage.setItem(DB_KEY, ctx.db());
    activate(current.id);
  });
  byId('range').addEventListener('change', () => activate(current.id));
  byId('refresh').addEventListener('click', () => activate(current.id));
  byId('signout').addEventListener('click', () => {
    signOut();
    location.reload();
  });
  await loadDatabases();
  await activate(location.hash.slice(1));
  document.body.dataset.ready = 'true';
}

main();
