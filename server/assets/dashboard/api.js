// The dashboard's only way to the server: Augur's own HTTP APIs, with the
// caller's token (kept in sessionStorage) sent as `Authorization: Token <t>`.
// A 401 opens the sign-in dialog and retries once a token is entered.

import { byId } from './dom.js';

const TOKEN_KEY = 'augur.token';

/** An error answered by the server (its `error` member) or by the network. */
export class ApiError extends Error {}

let pendingLogin = null;

/** Opens the sign-in dialog; resolves when a token was entered, rejects when dismissed. */
function askForToken(message) {
  if (pendingLogin) return pendingLogin;
  const dialog = byId('login');
  const form = byId('login-form');
  const input = byId('login-token');
  byId('login-message').textContent = message;
  pendingLogin = new Promise((resolve, reject) => {
    const done = (ok) => {
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      pendingLogin = null;
      if (dialog.open) dialog.close();
      ok ? resolve() : reject(new ApiError('not signed in: the server asks for a token'));
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      input.value = '';
      done(true);
    };
    const onCancel = () => done(false);
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    input.focus();
  });
  return pendingLogin;
}

/** Forgets the token (the next call asks again). */
export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Calls the API; answers the parsed JSON body (or null when empty). */
export async function request(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = { ...(options.headers ?? {}) };
    if (token) headers.Authorization = `Token ${token}`;
    let response;
    try {
      // No cookies or browser-held credentials: the token goes in the header, and
      // 'omit' keeps the browser from answering the 401's Basic challenge with its own prompt.
      response = await fetch(path, { ...options, headers, credentials: 'omit' });
    } catch (e) {
      throw new ApiError(`cannot reach the server: ${e.message}`);
    }
    if (response.status === 401 && attempt < 5) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      await askForToken(token ? 'That token was refused. Enter another one.' : 'This server asks for an API token.');
      continue;
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    if (!response.ok) throw new ApiError(body?.error ?? `${path}: HTTP ${response.status}`);
    return body;
  }
}

/**
 * Runs AQL statements (separated by `;`) and answers the `results` array,
 * times as epoch milliseconds. Reads go by GET, anything else by POST.
 */
export async function queryAll(q, db) {
  const params = new URLSearchParams({ q, epoch: 'ms' });
  if (db) params.set('db', db);
  const read = /^\s*(select|show)\b/i.test(q) && !/\binto\b/i.test(q);
  const body = read
    ? await request(`/query?${params}`)
    : await request('/query', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: params,
    });
  return body?.results ?? [];
}

/** Runs one statement; answers its series (throws its error). */
export async function query(q, db) {
  const [result] = await queryAll(q, db);
  if (result?.error) throw new ApiError(result.error);
  return result?.series ?? [];
}

/** An AQL string literal. */
export const str = (v) => `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** An AQL quoted identifier. */
export const ident = (v) => `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The first column of every row of every series (SHOW ... answers). */
export const firstColumn = (series) => series.flatMap((s) => (s.values ?? []).map((r) => r[0]));

/** The database's measurements. */
export async function measurements(db) {
  return db ? firstColumn(await query('SHOW MEASUREMENTS', db)) : [];
}

/** A measurement's numeric fields. */
export async function numericFields(db, measurement) {
  if (!db || !measurement) return [];
  const series = await query(`SHOW FIELD KEYS FROM ${ident(measurement)}`, db);
  return series.flatMap((s) => (s.values ?? []).filter((r) => r[1] === 'float' || r[1] === 'integer').map((r) => r[0]));
}

/** Splits a series key (`m,k=v,k2=v2`) into its measurement and tags. */
export function parseSeriesKey(key) {
  const parts = key.split(/(?<!\\),/).map((p) => p.replace(/\\(.)/g, '$1'));
  const tags = {};
  for (const p of parts.slice(1)) {
    const i = p.indexOf('=');
    if (i > 0) tags[p.slice(0, i)] = p.slice(i + 1);
  }
  return { measurement: parts[0], tags };
}
