// Webhooks: the subscriptions the caller manages and, for the chosen one,
// its recent deliveries, the delivery in progress and its dead letters.

import { request } from './api.js';
import { byId, fillSelect, showError, table } from './dom.js';

const enc = encodeURIComponent;

function deliveryRow(d, deadAt = '') {
  return [d.sequence, d.type, d.outcome, d.attempts, d.last?.status ?? '', d.last?.error ?? '', d.last?.time ?? '',
    d.last?.duration_ms ?? '', d.replay ? 'yes' : '', deadAt];
}

async function deliveries() {
  const id = byId('wh-sub').value;
  const box = byId('wh-deliveries');
  if (!id) {
    table(box, [], []);
    byId('wh-state').textContent = '';
    return;
  }
  const d = await request(`/v1/webhooks/${enc(id)}/deliveries`);
  const pending = d.pending
    ? `in progress: #${d.pending.sequence} ${d.pending.type}, attempt ${d.pending.attempts}` +
      (d.pending.next_attempt ? `, next at ${d.pending.next_attempt}` : '')
    : 'nothing in progress';
  byId('wh-state').textContent = `delivered up to #${d.cursor} of #${d.head}; ${pending}; ${d.dead_letters.length} dead letters`;
  const rows = [
    ...d.recent.map((r) => deliveryRow(r)),
    ...d.dead_letters.map((r) => deliveryRow(r, r.dead_at)),
  ];
  table(box, ['sequence', 'type', 'outcome', 'attempts', 'status', 'error', 'time', 'ms', 'replay', 'dead at'], rows,
    { timeColumns: [] });
}

export const webhooks = {
  id: 'webhooks',
  init() {
    byId('wh-sub').addEventListener('change', () => deliveries().catch((e) => showError(byId('wh-error'), e)));
  },
  async show() {
    const error = byId('wh-error');
    showError(error, null);
    try {
      const subs = (await request('/v1/webhooks')) ?? [];
      table(byId('wh-list'), ['id', 'url', 'types', 'pool', 'tenant', 'enabled', 'description'],
        subs.map((s) => [s.id, s.url, (s.types ?? []).join(' '), s.pool ?? '', s.tenant ?? '', s.enabled, s.description]),
        { timeColumns: [] });
      fillSelect(byId('wh-sub'), subs.map((s) => ({ value: s.id, label: `${s.id} ${s.url}` })));
      await deliveries();
    } catch (e) {
      showError(error, e);
    }
  },
};
