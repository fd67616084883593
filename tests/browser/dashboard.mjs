// Drives Augur's dashboard in a real browser (Debian's chromium through
// playwright-core) and checks what each view drew against what the caller
// wrote. Run by tests/tests/dashboard.rs:
//
//   node tests/browser/dashboard.mjs <spec.json>
//
// The spec names the server (`url`, `token`), where screenshots go (`out`),
// the database, and the expected counts per view (see dashboard.rs). Exits 0
// when every check passed, 1 with one line per failed check otherwise.

import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const TIMEOUT = spec.timeout_ms ?? 30000;
const failures = [];
const seen = {};

function check(what, actual, expected) {
  seen[what] = actual;
  if (String(actual) !== String(expected)) failures.push(`${what}: expected ${expected}, got ${actual}`);
}

mkdirSync(spec.out, { recursive: true });
const browser = await chromium.launch({
  executablePath: spec.chromium ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.setDefaultTimeout(TIMEOUT);
// Script errors and CSP violations fail the test; so do failed requests other than the expected 401.
page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
page.on('response', (r) => {
  if (r.status() >= 400 && r.status() !== 401) failures.push(`HTTP ${r.status()} for ${r.url()}`);
});
page.on('console', (m) => {
  if (m.type() === 'error' && !/status of 401/.test(m.text())) failures.push(`console error: ${m.text()}`);
});

/** The data-* attributes of an element. */
const data = (selector) => page.$eval(selector, (e) => ({ ...e.dataset }));

/** Clicks a tab and waits until its view has drawn. */
async function open(view) {
  await page.click(`nav button[data-view="${view}"]`);
  await page.waitForSelector(`#view-${view}[data-ready="true"]`);
}

async function shot(name) {
  await page.screenshot({ path: join(spec.out, `${name}.png`), fullPage: true });
}

/** Waits until `attr` of `selector` is set (after clearing it). */
async function rendered(selector, attr, action) {
  await page.$eval(selector, (e, a) => delete e.dataset[a], attr);
  await action();
  await page.waitForFunction(([s, a]) => document.querySelector(s)?.dataset[a] !== undefined, [selector, attr]);
}

async function steps() {
  await page.goto(spec.url);
  if (spec.token) {
    // The first API call answers 401: the sign-in dialog asks for the token.
    await page.waitForSelector('#login[open]');
    await shot('00-sign-in');
    await page.fill('#login-token', spec.token);
    await page.press('#login-token', 'Enter');
  }
  await page.waitForSelector('body[data-ready="true"]');
  await page.selectOption('#db', spec.db);
  await page.waitForSelector('#view-explorer[data-ready="true"]');

  // Explorer: the editor's query, run with Ctrl+Enter.
  const ex = spec.explorer;
  await page.fill('#ex-query', ex.query);
  await rendered('#ex-chart', 'points', () => page.press('#ex-query', 'Control+Enter'));
  const exChart = await data('#ex-chart');
  check('explorer chart points', exChart.points, ex.points);
  check('explorer chart series', exChart.series, ex.series);
  check('explorer table rows', (await data('#ex-table')).rows, ex.points);
  check('explorer canvas', await page.locator('#ex-chart canvas').count(), 1);
  await shot('01-explorer');

  // Forecast: actuals, forecast and band.
  const fc = spec.forecast;
  await open('forecast');
  await page.selectOption('#fc-measurement', fc.measurement);
  await page.waitForSelector(`#fc-field option[value="${fc.field}"]`, { state: 'attached' });
  await page.selectOption('#fc-field', fc.field);
  await page.fill('#fc-horizon', String(fc.horizon));
  await page.selectOption('#fc-model', fc.model);
  await rendered('#fc-chart', 'points', () => page.click('#fc-run'));
  const fcChart = await data('#fc-chart');
  check('forecast actual points', fcChart.actualPoints, fc.actual);
  check('forecast forecast points', fcChart.forecastPoints, fc.horizon);
  check('forecast chart points', fcChart.points, fc.points);
  check('forecast chart series', fcChart.series, 4);
  check('forecast chart anomaly markers', fcChart.markers, spec.anomalies.rows);
  await shot('02-forecast');

  // Pools: demand, forecast, allocated, ready, with the scaling actions.
  const pl = spec.pools;
  await open('pools');
  if ((await page.inputValue('#pl-pool')) !== pl.pool) {
    await rendered('#pl-chart', 'points', () => page.selectOption('#pl-pool', pl.pool));
  }
  const plChart = await data('#pl-chart');
  check('pool chart points', plChart.points, pl.points);
  check('pool chart series', plChart.series, pl.series);
  check('pool chart markers', plChart.markers, pl.actions);
  check('pool actions rows', (await data('#pl-actions')).rows, pl.actions);
  const poolList = (await page.textContent('#pl-list')) ?? '';
  for (const bursts of pl.bursts) {
    check(`pool list shows the periodic bursts "${bursts}"`, poolList.includes(bursts), true);
  }
  await shot('03-pools');

  // Models: accuracy over time from _internal.
  await open('models');
  check('model accuracy points', (await data('#md-chart')).points, spec.models.accuracy_points);
  await shot('04-models');

  // Webhooks: the subscriptions and one's deliveries.
  await open('webhooks');
  check('webhook subscriptions', (await data('#wh-list')).rows, spec.webhooks.subscriptions);
  check('webhook deliveries', (await data('#wh-deliveries')).rows, spec.webhooks.deliveries);
  await shot('05-webhooks');

  // Anomalies: the table, and the series with its anomalies marked.
  const an = spec.anomalies;
  await open('anomalies');
  check('anomalies rows', (await data('#an-table')).rows, an.rows);
  const anChart = await data('#an-chart');
  check('anomalies chart points', anChart.points, an.points);
  check('anomalies chart markers', anChart.markers, an.rows);
  await shot('06-anomalies');
}

try {
  await steps();
} catch (e) {
  failures.push(`step failed: ${e.message.split('\n')[0]}`);
  await shot('99-failure').catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify({ seen, failures, screenshots: spec.out }));
if (failures.length) {
  for (const f of failures) console.error(`FAIL ${f}`);
  process.exit(1);
}
