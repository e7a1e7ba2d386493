// Issue 4 end to end in a real browser with JavaScript OFF: the sign-up route is in queue mode,
// one admitted session fills the room, Chromium gets the queue page (position, ETA, self-refresh),
// is admitted when that session idles out, and registers at the demo app. Saves waitroom.png.
import path from 'node:path';
import { startDemoApp, startShield, stopAll, tempDir, accountsCreated } from './lib/gatehouse.mjs';

const policy = `routes:
  - name: signup
    match: { path_prefix: /signup }
    class: signup
    signup:
      mode: queue
      waiting_room: { new_users_per_minute: 60, max_active: 1, session_idle: 10s, refresh: 1s }
  - name: app
`;

export default async function ({ browser, screenshotDir, log, check }) {
  try {
    const dir = tempDir();
    const appPort = await startDemoApp(dir);
    const port = await startShield(dir, appPort, policy);
    const base = `http://127.0.0.1:${port}`;
    // Someone else is admitted first and holds the only active place until it idles out.
    const other = await fetch(`${base}/signup`, { headers: { Accept: 'application/json' } });
    check(other.status === 200, 'the first newcomer is admitted at once, got ' + other.status);

    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const first = await page.goto(`${base}/signup`);
    check(first.status() === 200, 'queue page status 200, got ' + first.status());
    const text = await page.locator('body').innerText();
    check(/position|in line|ahead/i.test(text), 'the page tells the position: ' + text.slice(0, 200));
    check(await page.locator('meta[http-equiv=refresh]').count() === 1, 'refreshes itself');
    check(await page.locator('[aria-live]').count() >= 1, 'status is announced (aria-live)');
    check((await context.cookies()).some((c) => c.name === 'gh_ticket'), 'a ticket cookie');
    await page.screenshot({ path: path.join(screenshotDir, 'waitroom.png'), fullPage: true });

    // The refresh brings the sign-up form once the room has room (the other session idles out).
    await page.locator('input[name=username]').waitFor({ timeout: 40000 });
    const user = 'queued' + Date.now() % 100000;
    await page.fill('input[name=username]', user);
    await page.fill('input[name=email]', `${user}@example.test`);
    await page.fill('input[name=password]', 'correct horse battery');
    await Promise.all([page.waitForURL(`${base}/account`, { timeout: 30000 }),
                       page.click('button[type=submit]')]);
    check((await page.content()).includes(user), 'registered after waiting');
    const stats = await accountsCreated(appPort);
    check(stats.accounts_total >= 1, 'the app counts the account');
    log(`waited in line, then registered ${user}`);
  } finally {
    await stopAll();
  }
}
