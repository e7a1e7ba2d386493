// The decision service behind real nginx (examples/nginx-auth-request.conf as shipped): Chromium
// asks nginx for the sign-up page, meets Gatehouse's challenge (nginx fetched the answer by id),
// solves it in the page, and registers at the demo app, which nginx proxies to directly.
// Saves decide-nginx-registered.png.
import path from 'node:path';
import { startDemoApp, startDecide, startNginx, stopAll, tempDir, accountsCreated, solveAndRegister }
  from './lib/gatehouse.mjs';

const policy = `residents: { success_cookie: demo_session, success_location: /account }
challenge: { levels: [{rate: 0, bits: 12}], refresh_wait: 1s }
routes:
  - name: signup
    match: { path_prefix: /signup }
    class: signup
    signup: { mode: challenge }
  - name: login
    match: { path: /login, methods: [POST] }
    class: login
  - name: app
`;

export default async function ({ browser, screenshotDir, log, check }) {
  try {
    const dir = tempDir();
    const appPort = await startDemoApp(dir);
    const gh = await startDecide(dir, appPort, policy);
    const port = await startNginx(dir, { app: appPort, inline: gh.inline, decide: gh.decide });
    const base = `http://127.0.0.1:${port}`;
    const before = (await accountsCreated(appPort)).accounts_total;

    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const first = await page.goto(`${base}/signup`);
    check(first.status() === 403, 'nginx answers the challenge with 403, got ' + first.status());
    check((first.headers()['server'] || '').startsWith('nginx'), 'the answer came through nginx');
    const user = await solveAndRegister({ page, context, base, prefix: 'nginx', check });
    await page.screenshot({ path: path.join(screenshotDir, 'decide-nginx-registered.png') });
    check(errors.length === 0, 'no script errors: ' + errors.join('; '));
    const after = (await accountsCreated(appPort)).accounts_total;
    check(after === before + 1, `one account created at the app (${before} -> ${after})`);
    log(`registered ${user} through nginx + auth_request`);
  } finally {
    await stopAll();
  }
}
