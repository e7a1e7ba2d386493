// Issue 5 end to end in a real browser: Chromium meets the proof-of-work challenge on the sign-up
// route, solves it in the page's Web Worker, is sent back with a clearance cookie, and registers
// at the demo app. A second, JavaScript-less context takes the meta-refresh path and also gets
// through. Saves challenge-page.png and challenge-registered.png.
import path from 'node:path';
import { startDemoApp, startShield, stopAll, tempDir, accountsCreated, solveAndRegister, challengePolicy } from './lib/gatehouse.mjs';

const policy = challengePolicy;

export default async function ({ browser, screenshotDir, log, check }) {
  try {
    const dir = tempDir();
    const appPort = await startDemoApp(dir);
    const port = await startShield(dir, appPort, policy);
    const base = `http://127.0.0.1:${port}`;
    const before = (await accountsCreated(appPort)).accounts_total;

    // With JavaScript: the worker solves, the form posts, the browser lands on the sign-up form.
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const first = await page.goto(`${base}/signup`);
    check(first.status() === 403, 'challenge answered with 403, got ' + first.status());
    // The page itself, fetched apart: the browser may already have solved and moved on.
    const html = await (await fetch(`${base}/signup`, { headers: { Accept: 'text/html' } })).text();
    check(html.includes('<h1') && html.includes('challenge.js'), 'a page with a heading and the solver');
    const user = await solveAndRegister({ page, context, base, prefix: 'chromium', check });
    await page.screenshot({ path: path.join(screenshotDir, 'challenge-registered.png') });
    check(errors.length === 0, 'no script errors: ' + errors.join('; '));
    const after = (await accountsCreated(appPort)).accounts_total;
    check(after === before + 1, `one account created at the app (${before} -> ${after})`);
    log(`registered ${user} through the proof of work`);

    // Without JavaScript: the <noscript> meta refresh comes back after the wait and clears.
    const nojs = await browser.newContext({ javaScriptEnabled: false });
    const p2 = await nojs.newPage();
    const started = Date.now();
    await p2.goto(`${base}/signup`);
    // The page as a visitor without JavaScript sees it, before the refresh.
    await p2.screenshot({ path: path.join(screenshotDir, 'challenge-page.png'), fullPage: true });
    await p2.waitForURL(`${base}/signup`, { timeout: 30000 });
    await p2.locator('input[name=username]').waitFor({ timeout: 30000 });
    const waited = Date.now() - started;
    check(waited >= 1500, `the no-JS path waited (${waited} ms)`);
    check((await nojs.cookies()).some((c) => c.name === 'gh_clearance'), 'no-JS clearance');
    log(`no-JavaScript path cleared after ${waited} ms`);
  } finally {
    await stopAll();
  }
}
