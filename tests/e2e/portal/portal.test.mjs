// The Concord portal in headless Chromium, as a person uses it: sign in (and a
// wrong password first), the account list, create an account through the
// form, find it by search, open it, edit it, meet a version conflict, archive
// it, reload the page with the session kept, sign out. Any console error or
// Content-Security-Policy violation that a step did not expect fails the run.
//
// Environment (tests/lib/with-env): CONCORD_GATEWAY_URL, CONCORD_ADMIN_USER,
// CONCORD_ADMIN_PASSWORD, CONCORD_TEST_DIR (the screenshot goes there).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.CONCORD_GATEWAY_URL;
const user = process.env.CONCORD_ADMIN_USER;
const password = process.env.CONCORD_ADMIN_PASSWORD;
const outDir = process.env.CONCORD_TEST_DIR || '.';
if (!base || !user || !password) {
  console.error('CONCORD_GATEWAY_URL, CONCORD_ADMIN_USER and CONCORD_ADMIN_PASSWORD must be set');
  process.exit(1);
}

const executablePath = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p));
if (!executablePath) {
  console.error('Chromium not found in /usr/lib/chromium/chromium or /usr/bin/chromium');
  process.exit(1);
}

let passed = 0;
let failed = 0;
let num = 0;
const problems = [];       // console errors and CSP violations nobody expected
let expected = [];         // [{status, path}] HTTP failures the current step provokes

function ok(desc) { num++; passed++; console.log(`ok ${num} - ${desc}`); }
function notOk(desc, detail) {
  num++; failed++;
  console.log(`not ok ${num} - ${desc}`);
  if (detail) console.log(String(detail).split('\n').map((l) => `#   ${l}`).join('\n'));
}

// Runs one step; a failed step stops the run because later steps build on it.
async function step(desc, fn) {
  try {
    await fn();
    ok(desc);
  } catch (err) {
    notOk(desc, err && err.stack ? err.stack : err);
    throw new Error('stopping after a failed step');
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(`expected ${what}`);
}

const run = `p${process.pid}r${Math.floor(Math.random() * 1e6)}`;
const name = `Portal Test ${run}`;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 860 } });
// Playwright's init scripts are not subject to the page's CSP; this one reports every
// violation to the test at once, so none is lost when the page navigates.
await context.exposeBinding('__reportCsp', (source, text) => { problems.push(`CSP violation: ${text}`); });
await context.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__reportCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
  });
});
const page = await context.newPage();
const failedResponses = [];
page.on('console', (msg) => {
  if (msg.type() !== 'error') return;
  const text = msg.text();
  const url = msg.location() && msg.location().url ? msg.location().url : '';
  // Chromium reports every HTTP error answer to fetch() as a console error; a step that
  // provokes one on purpose (a wrong password, a stale version) lists it in `expected`.
  const m = text.match(/status of (\d{3})/);
  if (m && expected.some((e) => String(e.status) === m[1] && url.endsWith(e.path))) return;
  problems.push(`console error: ${text}${url ? ` (${url})` : ''}`);
});
page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
page.on('response', (r) => { if (r.status() >= 400) failedResponses.push(`${r.status()} ${r.url()}`); });

try {
  await step('the portal opens on the sign-in page', async () => {
    // Before signing in, the page probes its session: 401 from /auth/csrf is expected.
    expected = [{ status: 401, path: '/auth/csrf' }];
    const resp = await page.goto(base + '/');
    expect(resp && resp.status() === 200, 'GET / to answer 200');
    await page.waitForSelector('#login-form');
    expect((await page.textContent('h1')).includes('Sign in'), 'a sign-in heading');
  });

  await step('a wrong password shows an error and stays on the sign-in page', async () => {
    expected.push({ status: 401, path: '/auth/login' });
    await page.fill('#login-username', user);
    await page.fill('#login-password', `wrong-${run}`);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-form .alert:not([hidden])');
    const text = await page.textContent('#login-form .alert');
    expect(/sign-in failed/i.test(text), `a sign-in error, got "${text}"`);
  });

  await step('signing in shows the account list', async () => {
    expected = [];
    await page.fill('#login-username', user);
    await page.fill('#login-password', password);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#accounts-table');
    expect((await page.textContent('h1')) === 'Accounts', 'the Accounts heading');
    expect(await page.isVisible('#logout'), 'a sign-out button');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === '__Host-concord_session');
    expect(session && session.httpOnly && session.secure && session.sameSite === 'Strict',
      'an HttpOnly, Secure, SameSite=Strict session cookie');
  });

  await step('an account is created through the form', async () => {
    await page.click('#create-panel summary');
    await page.fill('#new-name', name);
    await page.fill('#new-industry', 'higher education');
    await page.fill('#new-region', 'EMEA');
    await page.selectOption('#new-size', 'LARGE');
    await page.selectOption('#new-mode', 'CONSULTATIVE');
    await page.click('#create-form button[type=submit]');
    // Accounts of other tests may look alike: the portal then asks for confirmation.
    await page.waitForSelector('#account-title, #create-anyway');
    if (await page.$('#create-anyway')) await page.click('#create-anyway');
    await page.waitForSelector('#account-title');
    expect((await page.textContent('#account-title')) === name, 'the new account\'s detail page');
    expect(/^#\/accounts\/.+/.test(await page.evaluate(() => location.hash)), 'a detail URL');
  });

  await step('the list finds the account by search and opens its detail', async () => {
    await page.click('.crumbs a');
    await page.waitForSelector('#account-rows tr');
    await page.screenshot({ path: join(outDir, 'portal.png'), fullPage: true });
    await page.fill('#search', run);
    await page.waitForFunction((n) => {
      const rows = document.querySelectorAll('#account-rows tr');
      return rows.length === 1 && rows[0].textContent.includes(n);
    }, name);
    const cells = await page.$$eval('#account-rows tr td', (tds) => tds.map((td) => td.textContent));
    expect(cells[1] === 'higher education' && cells[2] === 'EMEA', `industry and region, got ${cells}`);
    await page.click(`#account-rows a.account-link`);
    await page.waitForSelector('#account-title');
    expect((await page.textContent('dd[data-field=sizeClass]')) === 'Large', 'the size class');
    expect((await page.textContent('dd[data-field=sellingMode]')) === 'Consultative', 'the selling mode');
  });

  await step('the account is edited', async () => {
    await page.click('#edit');
    await page.waitForSelector('#edit-form');
    await page.fill('#edit-region', 'APAC');
    await page.fill('#edit-tags', 'university, pilot');
    await page.fill('#edit-notes', 'Edited in the portal test.');
    await page.click('#save');
    await page.waitForSelector('.notice:not([hidden])');
    expect((await page.textContent('.notice')).includes('Saved'), 'a saved notice');
    expect((await page.textContent('dd[data-field=region]')) === 'APAC', 'the new region');
    expect((await page.$$eval('dd[data-field=tags] .tag', (t) => t.map((x) => x.textContent))).join() ===
      'university,pilot', 'the new tags');
    await page.screenshot({ path: join(outDir, 'portal-detail.png'), fullPage: true });
  });

  await step('a concurrent change shows a version conflict', async () => {
    const id = decodeURIComponent((await page.evaluate(() => location.hash)).split('/')[2]);
    await page.click('#edit');
    await page.waitForSelector('#edit-form');
    // Someone else saves first, through the same session from outside the page.
    const csrf = (await (await context.request.get(base + '/auth/csrf')).json()).csrfToken;
    const current = await (await context.request.post(base + '/concord.v1.AccountService/GetAccount', {
      headers: { 'X-CSRF-Token': csrf }, data: { id },
    })).json();
    const other = await context.request.post(base + '/concord.v1.AccountService/UpdateAccount', {
      headers: { 'X-CSRF-Token': csrf },
      data: { account: { id, region: 'NA' }, updateMask: 'region', version: current.version },
    });
    expect(other.status() === 200, `the concurrent update to succeed, got ${other.status()}`);
    expected = [{ status: 409, path: '/concord.v1.AccountService/UpdateAccount' }];
    await page.fill('#edit-region', 'LATAM');
    await page.click('#save');
    await page.waitForSelector('#edit-form .alert:not([hidden])');
    const text = await page.textContent('#edit-form .alert');
    expect(/conflict/i.test(text) && /someone else/i.test(text), `a conflict message, got "${text}"`);
    await page.click('#edit-form .alert a.reload');
    await page.waitForFunction(() => {
      const dd = document.querySelector('dd[data-field=region]');
      return dd && dd.textContent === 'NA';
    });
    expected = [];
  });

  await step('the account is archived', async () => {
    await page.click('#archive');
    await page.click('#archive');
    await page.waitForSelector('.notice:not([hidden])');
    expect((await page.textContent('.notice')).includes('archived'), 'an archived notice');
    expect(!(await page.isVisible('#archive')), 'no archive button on an archived account');
  });

  await step('a reload keeps the session', async () => {
    await page.goto(base + '/#/accounts');
    await page.waitForSelector('#accounts-table');
    expect(await page.isVisible('#logout'), 'still signed in');
  });

  await step('signing out returns to the sign-in page', async () => {
    expected = [{ status: 401, path: '/auth/csrf' }];
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    const cookies = await context.cookies();
    expect(!cookies.some((c) => c.name === '__Host-concord_session'), 'the cookie cleared');
    await page.reload();
    await page.waitForSelector('#login-form');
  });
} catch (err) {
  if (!String(err.message).startsWith('stopping')) notOk('the run ended early', err.stack);
  try {
    await page.screenshot({ path: join(outDir, 'portal-failure.png'), fullPage: true });
    console.log(`# screenshot of the failure: ${join(outDir, 'portal-failure.png')}`);
  } catch (e) { /* the page may be gone */ }
}

if (problems.length === 0) ok('no console errors and no CSP violations');
else notOk('no console errors and no CSP violations', problems.join('\n') +
  (failedResponses.length ? `\nHTTP errors seen: ${failedResponses.join(', ')}` : ''));

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
