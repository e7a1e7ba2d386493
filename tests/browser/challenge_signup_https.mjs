// Issue 15 in a real browser: Chromium reaches the sign-up route over HTTPS, where Gatehouse
// terminates TLS and ALPN chooses HTTP/2; it meets the proof-of-work challenge, solves it in the
// page's Web Worker and registers at the demo app, every request a stream of one connection.
// The certificate is made here with the openssl CLI; the browser context accepts it as the
// test's own (certificate checks themselves are tested with curl in tests/integration/tls_test.cc).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startDemoApp, startShield, stopAll, tempDir, accountsCreated, solveAndRegister, challengePolicy } from './lib/gatehouse.mjs';

const policy = challengePolicy;

export default async function ({ browser, screenshotDir, log, check }) {
  try {
    const dir = tempDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const appPort = await startDemoApp(dir);
    const port = await startShield(dir, appPort, policy,
      `    http2: true\n    tls:\n      certificates:\n        - { cert: ${cert}, key: ${key} }\n`);
    const base = `https://127.0.0.1:${port}`;
    const before = (await accountsCreated(appPort)).accounts_total;

    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const first = await page.goto(`${base}/signup`);
    check(first.status() === 403, 'challenge answered with 403, got ' + first.status());
    // The worker solves at once and navigates: the protocol is read from settled pages only.
    const user = await solveAndRegister({ page, context, base, prefix: 'h2user', check });
    const after = await page.evaluate(
      () => performance.getEntriesByType('navigation')[0].nextHopProtocol);
    check(after === 'h2', `the account page came over HTTP/2 (nextHopProtocol ${after})`);
    // The challenge page, in a context without JavaScript (nothing navigates it away at once).
    const nojs = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
    const p2 = await nojs.newPage();
    const challenge = await p2.goto(`${base}/signup`);
    check(challenge.status() === 403, 'the challenge page over https, got ' + challenge.status());
    await nojs.close();
    await page.screenshot({ path: path.join(screenshotDir, 'challenge-registered-https.png') });
    const cookies = await context.cookies();
    check(cookies.some((c) => c.name === 'gh_clearance' && c.secure), 'the clearance cookie is Secure');
    check(errors.length === 0, 'no script errors: ' + errors.join('; '));
    const created = (await accountsCreated(appPort)).accounts_total;
    check(created === before + 1, `one account created at the app (${before} -> ${created})`);
    log(`registered ${user} through the proof of work over https, HTTP/2`);
  } finally {
    await stopAll();
  }
}
