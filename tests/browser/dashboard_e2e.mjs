// The dashboard against a real shield: `gatehouse run` with a config written here (free ports, a
// node upstream, an admin token), headless Chromium on the admin API's /dashboard. Checks: the
// page loads without script errors, the charts update under traffic sent from node, a sign-up
// mode change from the page (with the token) takes effect (GET /signup then answers 503), the
// change is listed as an event; saves dashboard_e2e.png.
// Env: GATEHOUSE_BINARY (default BUILD_DIR/gatehouse, BUILD_DIR default ../../build).
import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOKEN = 'e2e-' + Math.random().toString(16).slice(2) + Math.random().toString(16).slice(2);

function startUpstream() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('app ' + req.url);
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

// Resolves with [proxyPort, adminPort] once both appear in the log.
function startShield(binary, config, log) {
  const child = spawn(binary, ['run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ports = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gatehouse did not start:\n' + out)), 15000);
    const onData = (d) => {
      out += d.toString();
      const p = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      const a = out.match(/admin API on http:\/\/127\.0\.0\.2:(\d+)\//);
      if (p && a) {
        clearTimeout(timer);
        resolve([Number(p[1]), Number(a[1])]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`gatehouse exited (${code}):\n${out}`)));
  });
  ports.catch(() => {});  // awaited by the test; a later exit (our SIGTERM) is no error
  return { child, ports, log: () => out };
}

function get(port, p) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers: { 'User-Agent': 'e2e-traffic/1' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(3000, () => { req.destroy(); resolve(0); });
  });
}

export default async function ({ browser, screenshotDir, log, check }) {
  const buildDir = path.resolve(process.env.BUILD_DIR || path.join(here, '../../build'));
  const binary = process.env.GATEHOUSE_BINARY || path.join(buildDir, 'gatehouse');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-dash-e2e-'));
  const tokenFile = path.join(dir, 'admin.token');
  writeFileSync(tokenFile, TOKEN + '\n');
  chmodSync(tokenFile, 0o600);
  const upstream = await startUpstream();
  const config = path.join(dir, 'gatehouse.yaml');
  writeFileSync(config, [
    'server: { workers: 1 }',
    'listen:',
    '  - address: 127.0.0.1:0',
    'upstreams:',
    '  app:',
    `    servers: [127.0.0.1:${upstream.address().port}]`,
    'routes:',
    '  - name: signup',
    '    match: { path_prefix: /signup }',
    '    class: signup',
    '    signup: { mode: open }',
    '  - name: app',
    `admin: { address: 127.0.0.2:0, token_file: ${tokenFile} }`,
    `bans: { journal: ${dir}/bans.journal }`,
    `secrets: { key_file: ${dir}/secret.key }`,
    `state_dir: ${dir}/state`,
    '',
  ].join('\n'));

  const shield = startShield(binary, config);
  let traffic = null;
  let stop = false;
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  let wrongToken = false;  // after that step, the browser reports the refused requests (401)
  page.on('console', (m) => {
    if (m.type() === 'error' && !(wrongToken && m.text().includes('401'))) errors.push(m.text());
  });
  try {
    const [proxyPort, adminPort] = await shield.ports;
    log(`shield on ${proxyPort}, admin API on ${adminPort}`);
    check(await get(proxyPort, '/signup') === 200, 'sign-up open at first');

    await page.goto(`http://127.0.0.2:${adminPort}/dashboard`, { waitUntil: 'load' });
    check((await page.title()) === 'Gatehouse dashboard', 'title');
    await page.waitForFunction(() => window.__dashboard && window.__dashboard.updates >= 1);
    for (const id of ['chart-verdict', 'chart-class', 'chart-latency', 'chart-queue', 'chart-modes']) {
      check(await page.locator(`#${id} canvas`).count() === 1, `a canvas in #${id}`);
    }

    // Traffic from node, about 50 requests a second, while the page polls.
    let sent = 0;
    traffic = (async () => {
      while (!stop) {
        await Promise.all(Array.from({ length: 5 }, () => get(proxyPort, '/page').then(() => { sent++; })));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await page.waitForFunction(() => {
      const s = window.__dashboard.lastSeries;
      return s && s.passed.reduce((a, b) => a + (b || 0), 0) >= 20;
    }, null, { timeout: 15000 });
    await page.waitForFunction(() => Number(document.getElementById('fig60-passed').textContent) >= 20);
    const before = Number(await page.textContent('#fig60-passed'));
    await page.waitForFunction((b) => Number(document.getElementById('fig60-passed').textContent) > b, before,
      { timeout: 10000 });
    log(`charts follow the traffic (${sent} requests sent so far)`);
    check(await page.evaluate(() => window.__dashboard.lastSeries.t.length > 0), 'series has seconds');
    check((await page.textContent('#top-prefixes')).includes('127.0.0.0/24'), 'top prefix listed');
    check((await page.textContent('#modes-body')).includes('open'), 'mode shown as open');

    // A mode change from the page, with the token.
    await page.fill('#token', TOKEN);
    await page.press('#token', 'Enter');
    await page.fill('#mode-route', 'signup');
    await page.selectOption('#mode-select', 'closed');
    await page.click('#mode-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('action-result').textContent.includes('set to closed'));
    check(await get(proxyPort, '/signup') === 503, 'GET /signup answers 503 once closed from the page');
    check(await get(proxyPort, '/page') === 200, 'other routes untouched');
    await page.waitForFunction(() => document.getElementById('modes-body').textContent.includes('closed'));
    await page.waitForFunction(() => document.getElementById('events-body').textContent.includes('mode_change'));
    check((await page.textContent('#events-body')).includes('open -> closed'), 'the change is an event');

    // A wrong token is refused and changes nothing.
    wrongToken = true;
    await page.click('#forget-token');
    await page.fill('#token', 'not-the-token');
    await page.press('#token', 'Enter');
    await page.selectOption('#mode-select', 'open');
    await page.click('#mode-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('action-result').textContent.includes('401'));
    check(await get(proxyPort, '/signup') === 503, 'still closed after a refused change');

    stop = true;
    await traffic;
    check(errors.length === 0, 'no script errors: ' + errors.join(' | '));
    const shot = path.join(screenshotDir, 'dashboard_e2e.png');
    await page.screenshot({ path: shot, fullPage: true });
    log('screenshot ' + shot);
  } catch (e) {
    throw new Error(e.message + '\n--- gatehouse log ---\n' + shield.log().slice(-4000));
  } finally {
    stop = true;
    if (traffic) await traffic.catch(() => {});
    await page.close();
    shield.child.kill('SIGTERM');
    await new Promise((r) => { shield.child.once('exit', r); setTimeout(r, 5000); });
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}
