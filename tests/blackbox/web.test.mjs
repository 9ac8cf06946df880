// The web app in a real browser (Debian's Chromium, driven by playwright-core), served by the
// edge from the private bucket, calling the API through the edge: what a user sees.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { ROOT, startStack } from './stack.mjs';

let env;
let browser;
before(async () => {
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

const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();

for (const runtime of ['spin', 'workers']) {
  describe(`web app through the ${runtime} edge`, () => {
    test('shows the build, adds a number and shows it in the daily statistics', async () => {
      const page = await browser.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // A signed-out visitor's /auth/me answers 401, which Chromium reports as a failed load.
      page.on('console', (m) => m.type() === 'error' && !m.text().includes('status of 401') && errors.push(m.text()));
      // The shipped headers policy gives the app a strict CSP (no inline script or style): every
      // violation is recorded, and Chromium also reports each one as a console error.
      await page.addInitScript(() => {
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
      });
      const resp = await page.goto(`${env.edges[runtime]}/`);
      assert.equal(resp.status(), 200);
      assert.match(resp.headers()['content-security-policy'], /script-src 'self'; style-src 'self'/);

      await page.waitForFunction(() => document.querySelector('#build-commit').textContent !== '…');
      assert.match(await page.textContent('#build-commit'), new RegExp(`^${commit}(-dirty)?$`));
      assert.ok(!Number.isNaN(Date.parse(await page.getAttribute('#build-time', 'datetime'))));
      await page.waitForFunction(() => document.querySelector('#stats-status').textContent !== 'Loading…');

      const value = 1000 + Math.floor(Math.random() * 1000);
      await page.fill('#value', String(value));
      await page.click('button[type=submit]');
      await page.waitForFunction((v) => document.querySelector('#add-result').textContent.includes(`Added ${v}`), value);
      const today = new Date().toISOString().slice(0, 10);
      await page.waitForFunction((d) => [...document.querySelectorAll('#stats tbody tr td:first-child')].some((td) => td.textContent === d), today);
      const row = await page.$$eval('#stats tbody tr', (rows, d) => {
        const r = rows.find((tr) => tr.cells[0].textContent === d);
        return [...r.cells].map((c) => c.textContent);
      }, today);
      assert.ok(Number(row[1]) >= 1, `count in ${row}`);
      assert.ok(Number(row[4]) >= value, `max ${row[4]} >= ${value}`);

      assert.equal(await page.textContent('#account-link'), 'Sign in');
      assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], 'no CSP violation');
      assert.deepEqual(errors, []);
      await page.close();
    });

    test('shows the origin’s validation error for a bad number, and a deep link loads the app', async () => {
      const page = await browser.newPage();
      await page.goto(`${env.edges[runtime]}/some/deep/link`);
      assert.equal(await page.textContent('h1'), 'Verge');
      // The browser's own validation stops non-numbers; an out-of-range value reaches the origin.
      await page.fill('#value', '1e300');
      await page.click('button[type=submit]');
      await page.waitForFunction(() => document.querySelector('#add-result').textContent.startsWith('Not added'));
      assert.match(await page.textContent('#add-result'), /value/);
      await page.close();
    });
  });
}
