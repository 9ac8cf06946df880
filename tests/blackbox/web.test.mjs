// The web app in a real browser (Debian's Chromium, driven by playwright-core) through both
// edges against the whole stack: the built app from the private bucket, every call through the
// edge's /api and /auth routes to the origin, moto, the bank stand-in and the OIDC provider.
// What a user does: signs in, adds numbers and sees the chart change, is told plainly what a user
// without roles may not do, is given the admin and a partner role at the provider and signs in
// again, creates and revokes an API key and posts and reads a partner's orders and rejected
// orders with the session alone (no token or key pasted into the page), connects the bank,
// signs out; bad input
// refused in the page naming the field, the origin's 400 shown the same way, the bank's 503 as
// "bank unavailable", an expired session sent to sign in and back.
//
// On every page: no uncaught error, no console error other than the HTTP answers the page
// handles (Chromium logs each 4xx/5xx fetch as "Failed to load resource"), no CSP violation
// (index.html carries the app's policy as a meta tag), the session cookie unreadable from
// document.cookie, and axe-core finds no WCAG 2.1 A/AA or best-practice violation. Screenshots
// of each page go to target/artifacts/web/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, raw, startStack } from './stack.mjs';

const ARTIFACTS = path.join(ROOT, 'target/artifacts/web');
// Evaluated in the page (DevTools evaluation is outside the page's CSP); a <script> tag with its
// text, as page.addScriptTag makes, would be an inline script the app's CSP refuses.
const AXE = fs.readFileSync(path.join(ROOT, 'tests/node_modules/axe-core/axe.min.js'), 'utf8');
const BUILD = JSON.parse(fs.readFileSync(path.join(ROOT, 'web/dist/build.json'), 'utf8'));
const BANK_TOKEN = 'pat_live_0a1b2c3d4e5f60718293a4b5c6d7e8f9';

let env;
let browser;
before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  env = await startStack();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await env?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bank = (p, body) => raw(env.stack.bank, 'POST', p, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const bankCalls = async () => (await raw(env.stack.bank, 'GET', '/_stats')).json.calls;
/** Sets a user's groups at the provider (its administrator's action), for tokens issued afterwards. */
async function setGroups(user, groups) {
  const r = await fetch(`${env.stack.idp}/dev/accounts/${encodeURIComponent(user)}/groups`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${env.stack.edge_env_for_workers.VERGE_OIDC_CLIENT_SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify(groups),
  });
  assert.equal(r.status, 204);
}

/** A UTC `datetime-local` value (YYYY-MM-DDTHH:MM) `minutes` from now. */
const utcLocal = (minutes) => new Date(Date.now() + minutes * 60_000).toISOString().slice(0, 16);

for (const runtime of ['spin', 'workers']) {
  describe(`web app through the ${runtime} edge`, () => {
    const edge = () => env.edges[runtime];
    const user = `web-${runtime}`;
    let context;
    let page;
    const faults = [];
    let partnerKey;
    const partner = `partner-${runtime}-${Date.now().toString(36)}`;

    before(async () => {
      context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: edge() });
      await context.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
      });
      page = await context.newPage();
      page.on('pageerror', (e) => faults.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        const onApp = (m.location().url || page.url()).startsWith(edge());
        if (m.type() !== 'error' || !onApp) return;
        if (/^Failed to load resource: the server responded with a status of \d{3}/.test(m.text())) return;
        faults.push(`console: ${m.text()}`);
      });
    });
    after(async () => {
      await context?.close();
    });

    /** Opens `p` on this edge and waits until the page is there. */
    async function open(p, heading) {
      const resp = await page.goto(`${edge()}${p}`);
      assert.equal(resp.status(), 200);
      await page.waitForSelector(`main h1:text-is("${heading}")`);
    }

    /** axe-core on the page as it is now, and a screenshot; fails on any violation. */
    async function check(name, { fullPage = true } = {}) {
      await page.evaluate(AXE);
      const result = await page.evaluate(() =>
        window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }),
      );
      const found = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
      await page.screenshot({ path: path.join(ARTIFACTS, `${runtime}-${name}.png`), fullPage });
      assert.deepEqual(found, [], `axe on ${name}`);
      const cookie = await page.evaluate(() => document.cookie);
      assert.ok(!cookie.includes('verge-session'), `the session cookie is not readable by scripts (${name})`);
    }

    /**
     * Goes through the OIDC provider's pages until it sends the browser back to the edge: its
     * login form (any username signs in) and its consent form, each when it shows them (a
     * provider that remembers the user shows neither).
     */
    async function providerLogin(name) {
      await page.waitForURL((u) => !u.toString().startsWith(`${edge()}/auth/`));
      for (let step = 0; step < 4 && !page.url().startsWith(edge()); step += 1) {
        await page.waitForSelector('button[type=submit]');
        if (await page.$('input[name=login]')) {
          await page.fill('input[name=login]', name);
          await page.fill('input[name=password]', 'any');
        }
        await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
      }
    }

    test('overview, signed out: the build, the edge and origin health, a sign-in link', async () => {
      await open('/', 'Overview');
      await page.waitForSelector('#build-commit');
      assert.match(BUILD.commit, /^[0-9a-f]{12}(-dirty)?$/);
      assert.equal(await page.textContent('#build-commit'), BUILD.commit);
      assert.equal(await page.getAttribute('#build-time', 'datetime'), BUILD.time);
      await page.waitForFunction(() => !document.querySelector('#health-origin').textContent.includes('checking'));
      assert.match(await page.textContent('#health-origin'), /^ok \(storage ok, \d+ ms\)$/);
      assert.match(await page.textContent('#health-edge'), /^up \(answered in \d+ ms\)$/);
      assert.match(await page.textContent('#who-state'), /Not signed in/);
      assert.equal(await page.textContent('#sign-in'), 'Sign in');
      await check('overview-signed-out');
    });

    test('numbers: bad input refused naming the field, the origin’s 400 shown the same way, an add changes the chart and the table', async () => {
      await open('/numbers', 'Numbers'); // a deep link: the edge answers index.html
      await page.waitForSelector('section[aria-busy="false"] #stats-status');
      const today = new Date().toISOString().slice(0, 10);
      const todayRow = () =>
        page.$$eval('#stats tbody tr', (rows, d) => {
          const r = rows.find((tr) => tr.cells[0].textContent === d);
          return r ? [...r.cells].map((c) => Number(c.textContent)) : null;
        }, today);
      const before = (await todayRow())?.[1] ?? 0;
      const chartBefore = await page.$eval('#stats-chart canvas', (c) => c.toDataURL());

      // The page's own check: not a number.
      await page.fill('#value', '12abc');
      await page.click('#add-form button[type=submit]');
      assert.equal(await page.textContent('#value-error'), 'Value must be a number, such as 42 or -3.5.');
      assert.equal(await page.getAttribute('#value', 'aria-invalid'), 'true');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'value', 'focus on the field');
      // The origin's check (magnitude at most 1e15): its 400 names `value`, shown on the same field.
      await page.fill('#value', '1e300');
      await page.click('#add-form button[type=submit]');
      await page.waitForSelector('#add-form ~ .problem');
      assert.match(await page.textContent('#value-error'), /`value` must be between/);
      assert.match(await page.textContent('#add-form ~ .problem'), /^Bad Request: `value` must be between/);
      // A range the page refuses.
      await page.fill('#from', '2026-12-31');
      await page.fill('#to', '2026-01-01');
      await page.click('#range-form button[type=submit]');
      assert.equal(await page.textContent('#to-error'), 'To must not be before From.');
      await check('numbers-bad-input');

      // Go back to the default range, then add. The row and the chart must show the new number:
      // wait for today's count to go up (not for the "Added" line, which comes first).
      await open('/numbers', 'Numbers');
      await page.waitForSelector('section[aria-busy="false"] #stats-status');
      const value = 1000 + Math.floor(Math.random() * 1000);
      await page.fill('#value', String(value));
      await page.click('#add-form button[type=submit]');
      await page.waitForFunction((v) => document.querySelector('#add-result').textContent.startsWith(`Added ${v} on `), value);
      await page.waitForFunction(
        ([d, n]) => [...document.querySelectorAll('#stats tbody tr')].some((tr) => tr.cells[0].textContent === d && Number(tr.cells[1].textContent) === n),
        [today, before + 1],
      );
      const [, count, , min, max] = await todayRow();
      assert.equal(count, before + 1);
      assert.ok(max >= value && min <= value, `min ${min} <= ${value} <= max ${max}`);
      assert.match(await page.getAttribute('#stats-chart', 'aria-label'), /numbers? on \d+ days? from/);
      const chartAfter = await page.$eval('#stats-chart canvas', (c) => c.toDataURL());
      assert.notEqual(chartAfter, chartBefore, 'the chart was redrawn with the new number');
      await check('numbers');

      // A narrow screen: nothing wider than the viewport.
      await page.setViewportSize({ width: 360, height: 800 });
      await sleep(100); // the chart follows its box's new width
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'no horizontal scrolling at 360 px');
      await check('numbers-narrow');
      await page.setViewportSize({ width: 1100, height: 900 });
    });

    test('signs in through the OIDC provider and comes back to the same page', async () => {
      await open('/numbers', 'Numbers');
      await page.click('#sign-in');
      await providerLogin(user);
      await page.waitForURL(`${edge()}/numbers`);
      await page.waitForSelector('#account-name');
      assert.equal(await page.textContent('#account-name'), `Signed in as Dev ${user}`);
      const session = (await context.cookies(edge())).find((c) => c.name === '__Host-verge-session');
      assert.ok(session?.httpOnly, 'an HttpOnly session cookie');
      await open('/', 'Overview');
      await page.waitForSelector('dl#who-state');
      assert.match(await page.textContent('#who-state'), new RegExp(`UserDev ${user}Email${user}@verge.local`));
      assert.equal(await page.textContent('#who-roles'), 'none');
      await check('overview-signed-in');
    });

    test('without roles the admin and partner pages say so plainly; given them at the provider, signing in again opens both', async () => {
      await open('/keys', 'API keys');
      await page.waitForSelector('#keys-access.notice');
      assert.match(await page.textContent('#keys-access'), new RegExp(`^You are signed in as Dev ${user}, who does not have the admin role`));
      assert.equal(await page.$('#create-form'), null);
      assert.equal(await page.$('input[type=password]'), null, 'no token field');
      await check('keys-no-role');
      await open('/orders', 'Orders');
      await page.waitForSelector('#orders-access.notice');
      assert.match(await page.textContent('#orders-access'), /who has no partner role/);
      assert.equal(await page.$('input[type=password]'), null, 'no key field');
      await check('orders-no-role');

      await setGroups(user, ['admin', `partner:${partner}`]);
      await page.goto(`${edge()}/auth/login?return_to=%2Fkeys`);
      await providerLogin(user); // the provider remembers the user and may skip its form
      await page.waitForURL(`${edge()}/keys`);
      await page.waitForSelector('section[aria-busy="false"] #keys-status');
      await open('/', 'Overview');
      await page.waitForSelector('dl#who-state');
      assert.equal(await page.textContent('#who-roles'), `admin, partner:${partner}`);
    });

    test('API keys: an admin creates a key (its secret shown once, copied) and sees it listed; bad plans refused', async () => {
      await open('/keys', 'API keys');
      await page.waitForSelector('section[aria-busy="false"] #keys-status');

      await page.fill('#consumer', 'has space');
      await page.fill('#burst', '0');
      await page.click('#create-form button[type=submit]');
      assert.match(await page.textContent('#consumer-error'), /^Consumer must be 1 to 64 letters/);
      assert.equal(await page.textContent('#burst-error'), 'Burst must be a whole number of at least 1.');
      // Above the origin's ceiling: its 400 names plan.burst, shown on the Burst field.
      await page.fill('#consumer', partner);
      await page.fill('#burst', '999999');
      await page.click('#create-form button[type=submit]');
      await page.waitForSelector('#burst-error');
      assert.equal(await page.textContent('#burst-error'), '`plan.burst` must be a whole number from 1 to 5000');

      await page.fill('#burst', '20');
      await page.click('#create-form button[type=submit]');
      await page.waitForSelector('#new-key-secret');
      partnerKey = await page.textContent('#new-key-secret');
      assert.match(partnerKey, /^vk_[0-9a-f]{64}$/);
      await page.click('#copy-key');
      await page.waitForFunction(() => document.querySelector('#copy-status').textContent === 'Copied to the clipboard.');
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), partnerKey);
      await page.waitForSelector(`#keys tbody th:text-is("${partner}")`);
      await check('keys-created');
      // Shown once: a new visit lists it without a secret.
      await open('/keys', 'API keys');
      assert.equal(await page.$('#new-key-secret'), null);
    });

    test('orders: the session posts a partner’s orders, valid and invalid; its orders over a time range, paged with cursors, and its rejected orders', async () => {
      const order = (seq, minutesAgo) => ({
        sequenceNumber: seq,
        eventTime: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
        currency: 'EUR',
        lineItems: [{ sku: `SKU-${seq}`, quantity: 2, unitPrice: 5.25 }],
        total: 10.5,
      });
      const orders = Array.from({ length: 25 }, (_, i) => order(i + 1, i + 1));
      orders.push(order(100, 600)); // ten hours ago: outside the range asked for below
      orders.push({ ...order(7001, 1), total: 99 }); // the total does not add up
      orders.push({ ...order(7002, 1), lineItems: [{ sku: 'X', quantity: 0, unitPrice: 1 }], total: 0 });
      // Posted from the app's page with the session cookie alone (a same-origin POST: the edge
      // requires it of writes with the cookie); the partner:ID role admits it.
      await open('/orders', 'Orders');
      const posted = await page.evaluate(async ([p, body]) => {
        const r = await fetch(`/api/partners/${p}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        return { status: r.status, json: await r.json() };
      }, [partner, JSON.stringify({ orders })]);
      assert.equal(posted.status, 200, JSON.stringify(posted.json));
      assert.equal(posted.json.accepted.length, 26);
      assert.equal(posted.json.rejected.length, 2);

      assert.deepEqual(await page.$$eval('#partner option', (os) => os.map((o) => o.value)), [partner], 'the partners of the session’s roles');
      assert.equal(await page.$('input[type=password]'), null, 'no key field');
      await page.fill('#from', utcLocal(-60));
      await page.fill('#to', utcLocal(-120));
      await page.click('#orders-form button[type=submit]');
      assert.equal(await page.textContent('#to-error'), 'To must not be before From.');

      await page.fill('#to', '');
      await page.click('#orders-form button[type=submit]');
      await page.waitForSelector('section[aria-busy="false"] #orders-status');
      const seqs = () => page.$$eval('#orders tbody th', (ths) => ths.map((th) => Number(th.textContent)));
      const first = await seqs();
      assert.equal(first.length, 20, 'a page of 20');
      assert.deepEqual(first, Array.from({ length: 20 }, (_, i) => 25 - i), 'oldest event first');
      await page.click('#orders-pager button:text-is("Next page")');
      await page.waitForFunction(() => document.querySelector('#orders-pager span').textContent === 'Page 2');
      await page.waitForSelector('section[aria-busy="false"] #orders-status');
      assert.deepEqual(await seqs(), [5, 4, 3, 2, 1], 'the rest; the order from ten hours ago is outside the range');
      assert.ok(await page.isDisabled('#orders-pager button:text-is("Next page")'));
      await page.click('#orders-pager button:text-is("Previous page")');
      await page.waitForFunction(() => document.querySelector('#orders-pager span').textContent === 'Page 1');
      await page.waitForSelector('section[aria-busy="false"] #orders-status');
      assert.deepEqual(await seqs(), first);

      await page.waitForSelector('section[aria-busy="false"] #rejected-status');
      const rejected = await page.$$eval('#rejected tbody tr', (rows) => rows.map((r) => [r.cells[1].textContent, r.cells[2].textContent]));
      assert.equal(rejected.length, 2);
      assert.deepEqual(rejected.map(([s]) => s).sort(), ['7001', '7002']);
      assert.match(rejected.find(([s]) => s === '7002')[1], /lineItems\[0\]\.quantity/);
      assert.match(rejected.find(([s]) => s === '7001')[1], /total/);
      await check('orders');
    });

    test('API keys: an admin revokes the key', async () => {
      await open('/keys', 'API keys');
      const row = `#keys tbody tr:has(th:text-is("${partner}"))`;
      await page.waitForSelector(row);
      await page.click(`${row} button:text-is("Revoke")`);
      await page.click(`${row} button:text-is("Confirm revoking ${partner}")`);
      await page.waitForSelector(row, { state: 'detached' });
      assert.match(await page.textContent('.notice'), new RegExp(`^Revoked the key [0-9a-f]+ of ${partner}`));
      await check('keys-revoked');
    });

    test('connections: connect the bank with a token, see accounts and transactions, the bank’s 503 shown as unavailable, disconnect', async () => {
      await bank('/_reset', {});
      await open('/connections', 'Connections');
      await page.waitForFunction(() => document.querySelector('#bank-status')?.textContent === 'Not connected.');
      await page.click('#connect-form button[type=submit]');
      assert.equal(await page.textContent('#token-error'), 'Bank access token is required.');
      await page.fill('#token', BANK_TOKEN);
      await page.click('#connect-form button[type=submit]');
      await page.waitForSelector('#accounts');
      const accounts = await page.$$eval('#accounts tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
      assert.deepEqual(accounts, [
        ['Everyday', '…3000', '1523.40 EUR'],
        ['Savings', '…3001', '10000.00 EUR'],
      ]);
      await page.waitForSelector('#transactions');
      const firstPage = await page.$$eval('#transactions tbody tr', (rows) => rows.length);
      await page.click('#more-transactions');
      await page.waitForFunction((n) => document.querySelectorAll('#transactions tbody tr').length > n, firstPage);
      assert.ok(!(await page.content()).includes(BANK_TOKEN), 'the token is never shown again');
      assert.equal(await page.$('#token'), null);
      await check('connections');

      // The bank fails every call: three failed calls open the origin's breaker (the stack sets
      // 3 failures, 1.5 s cooldown); the page's next load gets the breaker's 503.
      await bank('/_control', { plan: Array.from({ length: 9 }, () => ({ status: 500 })) });
      for (let i = 0; i < 3; i += 1) {
        assert.equal(await page.evaluate(() => fetch('/api/me/accounts').then((r) => r.status)), 503);
      }
      const callsBefore = await bankCalls();
      await page.reload();
      await page.waitForSelector('#bank-unavailable');
      assert.match(await page.textContent('#bank-unavailable'), /^Bank unavailable, try again( in \d+ s)?\.Try again$/);
      assert.equal(await bankCalls(), callsBefore, 'the breaker answered, not the bank');
      await check('connections-bank-unavailable');
      await bank('/_reset', {});
      await sleep(1600); // the breaker's cooldown
      await page.click('#bank-unavailable button');
      await page.waitForSelector('#accounts');

      await page.click('#disconnect');
      await page.waitForFunction(() => document.querySelector('#bank-status')?.textContent === 'Not connected.');
      assert.equal(await page.textContent('.notice'), 'Disconnected. The stored token was deleted.');
    });

    test('a session that expires mid-use sends the user to sign in and back to the same page', async () => {
      await open('/connections', 'Connections');
      await page.waitForSelector('#connect-form');
      // The session cookie goes (as when it expires); the page does not know yet.
      await context.clearCookies({ name: '__Host-verge-session' });
      await page.fill('#token', BANK_TOKEN);
      await page.click('#connect-form button[type=submit]');
      await page.waitForURL((u) => !u.toString().startsWith(`${edge()}/connections`));
      await providerLogin(user); // the provider may remember the user and skip its form
      await page.waitForURL(`${edge()}/connections`);
      await page.waitForSelector('#account-name');
      assert.equal(await page.textContent('#account-name'), `Signed in as Dev ${user}`);
      await page.waitForFunction(() => document.querySelector('#bank-status')?.textContent === 'Not connected.');
    });

    test('signs out', async () => {
      await open('/', 'Overview');
      await page.waitForSelector('#sign-out');
      await page.click('#sign-out');
      await page.waitForURL((u) => !u.toString().startsWith(edge()));
      await open('/', 'Overview');
      await page.waitForSelector('#sign-in');
      assert.equal(await page.evaluate(() => fetch('/auth/me').then((r) => r.status)), 401);
      assert.ok(!(await context.cookies(edge())).some((c) => c.name === '__Host-verge-session'));
      assert.deepEqual(faults, [], 'no page errors, console errors or CSP violations');
    });
  });
}
