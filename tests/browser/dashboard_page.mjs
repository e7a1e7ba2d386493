// The dashboard page against canned JSON, without the proxy: the files are the ones embedded in
// the binary, read back from the generated source (BUILD_DIR/generated/observe/
// dashboard_assets.cc), served by a tiny node server that also answers the admin API reads.
// Checks: the page loads without script errors, every chart draws a canvas, the figures follow
// the series when it changes, events and top offenders are listed, a sign-up mode change is sent
// with the bearer token, the controls are reachable by keyboard; saves dashboard.png.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// path -> { type, body } from the generated C++ source.
export function embeddedAssets(buildDir) {
  const src = readFileSync(path.join(buildDir, 'generated/observe/dashboard_assets.cc'), 'utf8');
  const arrays = new Map();
  for (const m of src.matchAll(/const unsigned char (k\d+)\[\d+ \+ 1\] = \{([^}]*)\};/g)) {
    const bytes = m[2].match(/0x[0-9a-f]{2}/g) || [];
    arrays.set(m[1], Buffer.from(bytes.map((h) => parseInt(h, 16))));
  }
  const assets = new Map();
  for (const m of src.matchAll(/\{"([^"]+)", "([^"]+)", (k\d+), (\d+)\}/g)) {
    const body = arrays.get(m[3]);
    if (!body || body.length !== Number(m[4])) throw new Error('bad embedded asset ' + m[1]);
    assets.set(m[1], { type: m[2], body });
  }
  return assets;
}

function series(now, passed, routesMode) {
  const n = 300;
  const t = [];
  for (let i = n - 1; i >= 0; i--) t.push(now - i);
  const col = (f) => t.map((_, i) => f(i));
  return {
    t,
    requests: col((i) => passed + 5 + (i % 3)),
    passed: col(() => passed), rate_limited: col((i) => i % 3), challenged: col(() => 1), queued: col(() => 2),
    shed: col(() => 0), banned: col(() => 1), denied: col(() => 0), closed: col(() => 0),
    resident: col(() => 10), resident_served: col(() => 10), verified: col(() => 3), verified_served: col(() => 3),
    anonymous: col(() => passed), anonymous_served: col(() => passed), suspect: col(() => 2), suspect_served: col(() => 0),
    latency_p50_ms: col((i) => 5 + (i % 5)), latency_p99_ms: col((i) => 40 + (i % 17)),
    queue_length: col((i) => i), admitted: col(() => 1),
    // One sign-up at the base price every second, one with a surcharge every other second.
    signup_accounts_unpaid: col(() => 0), signup_accounts_base: col(() => 1),
    signup_accounts_surcharged: col((i) => i % 2), signup_hashes_base: col(() => 65536),
    signup_hashes_surcharged: col((i) => (i % 2) * 1048576),
    modes: { signup: col((i) => (i < 200 ? 0 : routesMode)) },
    mode_names: ['open', 'challenge', 'queue', 'closed'],
  };
}

export default async function ({ browser, screenshotDir, log, check }) {
  const buildDir = path.resolve(process.env.BUILD_DIR || path.join(here, '../../build'));
  const assets = embeddedAssets(buildDir);
  check(assets.size >= 5, 'five embedded files, got ' + assets.size);

  const canned = {
    passed: 123, mode: 2,
    fleet: {
      node: 'edge-1', redis: '127.0.0.1:6379', up: true, live: 2, gone: 1,
      sum: { requests_per_s: 250.5, refusals_per_s: 12 },
      nodes: [
        { node: 'edge-1', self: true, state: 'live', age_ms: 0, figures: { requests_per_s: 150.5, refusals_per_s: 2, signups_total: 7, in_flight: 3, queued: 1 } },
        { node: 'edge-2', self: false, state: 'live', age_ms: 800, figures: { requests_per_s: 100, refusals_per_s: 10, signups_total: 5, in_flight: 1, queued: 0 } },
        { node: '<b>edge-3</b>', self: false, state: 'gone', age_ms: 42000, figures: { requests_per_s: 0, refusals_per_s: 0, signups_total: 0, in_flight: 0, queued: 0 } },
      ],
    },
  };
  const changes = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const json = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' || req.method === 'DELETE') {
      let body = '';
      req.on('data', (c) => { body += c; if (body.length > 65536) req.destroy(); });
      req.on('end', () => {
        changes.push({ method: req.method, path: url.pathname, auth: req.headers.authorization, body });
        if (req.headers.authorization !== 'Bearer s3cret') return json(401, { error: 'invalid bearer token' });
        if (url.pathname === '/v1/signup-mode') {
          const b = JSON.parse(body);
          canned.mode = ['open', 'challenge', 'queue', 'closed'].indexOf(b.mode);
          return json(200, { route: b.route, mode: b.mode });
        }
        return json(404, { error: 'no such endpoint' });
      });
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    switch (url.pathname) {
      case '/v1/series': return json(200, series(now, canned.passed, canned.mode));
      case '/v1/status': return json(200, { version: 'test', uptime_s: 42, generation: 3, workers: 2, bans: { live: 1 }, fleet: canned.fleet });
      case '/v1/events': return json(200, { events: [
        { at: Date.now() - 5000, time: new Date(Date.now() - 5000).toISOString(), kind: 'mode_change', route: 'signup', message: 'open -> queue' },
        { at: Date.now() - 1000, time: new Date(Date.now() - 1000).toISOString(), kind: 'ban', message: '203.0.113.0/24 for 1h' }] });
      case '/v1/top': return json(200, {
        prefixes: [{ key: '203.0.113.0/24', count: 900, error: 3 }, { key: '2001:db8::/48', count: 50, error: 0 }],
        asns: [{ key: 'AS64496', count: 950, error: 0 }], user_agents: [{ key: '<script>x</script>', count: 10, error: 0 }], accounts: [] });
    }
    const a = assets.get(url.pathname === '/' ? '/dashboard/index.html' : url.pathname);
    if (!a) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'Content-Type': a.type });
    res.end(a.body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  page.setDefaultTimeout(10000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await page.goto(base + '/', { waitUntil: 'load' });
    check((await page.title()) === 'Gatehouse dashboard', 'title');
    await page.waitForFunction(() => window.__dashboard && window.__dashboard.updates >= 1);
    for (const id of ['chart-verdict', 'chart-class', 'chart-latency', 'chart-queue', 'chart-modes']) {
      check(await page.locator(`#${id} canvas`).count() === 1, `a canvas in #${id}`);
    }
    check((await page.textContent('#fig-passed')).trim() === '123', 'last-second passed figure');
    check((await page.textContent('#fig60-passed')).trim() === String(123 * 60), '60 s passed figure');
    check((await page.textContent('#fig60-signup_accounts_base')).trim() === '60', '60 s base-price sign-ups');
    check((await page.textContent('#fig60-signup_accounts_surcharged')).trim() === '30', '60 s surcharged sign-ups');
    check((await page.textContent('#fig60-hashes-base')).trim() === '65536', 'hashes per base-price account');
    check((await page.textContent('#fig60-hashes-surcharged')).trim() === '1048576', 'hashes per surcharged account');
    check((await page.locator('#events-body tr').count()) === 2, 'two events listed');
    check((await page.textContent('#events-body tr:first-child')).includes('203.0.113.0/24'), 'newest event first');
    check((await page.textContent('#modes-body')).includes('queue'), 'current mode shown');
    check((await page.locator('#top-prefixes tbody tr').count()) === 2, 'top prefixes listed');
    check((await page.textContent('#top-user_agents')).includes('<script>x</script>'), 'keys shown as text, not markup');
    check((await page.textContent('#status-line')).includes('version test'), 'status line');
    // The fleet panel: every node with its health in words; a name is text, never markup.
    check(await page.isVisible('#fleet-section'), 'fleet panel shown');
    check((await page.locator('#fleet-body tr').count()) === 3, 'three nodes listed');
    check((await page.textContent('#fleet-body tr:first-child th')).includes('edge-1 (this node)'), 'this node marked');
    check((await page.textContent('#fleet-body tr:nth-child(3)')).includes('gone'), 'a gone node says so');
    check((await page.textContent('#fleet-body tr:nth-child(3) th')) === '<b>edge-3</b>', 'node names shown as text');
    check((await page.textContent('#fleet-line')).includes('2 live, 1 gone'), 'fleet health line');
    check((await page.textContent('#fleet-line')).includes('250.5 req/s'), 'fleet summed figures');
    canned.fleet.gone = 0;
    canned.fleet.nodes.pop();
    await page.waitForFunction(() => document.querySelectorAll('#fleet-body tr').length === 2, null, { timeout: 5000 });
    canned.fleet = null;  // a node alone: no panel
    await page.waitForFunction(() => document.getElementById('fleet-section').hidden, null, { timeout: 5000 });
    log('fleet panel follows the nodes and hides for a node alone');

    // The canned series changes: the figures follow within a few polls.
    canned.passed = 456;
    await page.waitForFunction(() => document.getElementById('fig-passed').textContent.trim() === '456', null, { timeout: 5000 });
    log('figures updated after the series changed');

    // A change without a token is not sent; with one it is, as a bearer token.
    await page.selectOption('#mode-select', 'closed');
    await page.click('#mode-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('action-result').textContent.includes('token'));
    check(changes.length === 0, 'nothing sent without a token');
    await page.fill('#token', 's3cret');
    await page.press('#token', 'Enter');
    await page.fill('#mode-route', 'signup');
    await page.focus('#mode-select');
    await page.keyboard.press('Tab');  // to the submit button, by keyboard
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('action-result').textContent.includes('set to closed'));
    const sent = changes.find((c) => c.path === '/v1/signup-mode');
    check(sent && sent.auth === 'Bearer s3cret', 'mode change sent with the bearer token');
    check(JSON.stringify(JSON.parse(sent.body)) === JSON.stringify({ route: 'signup', mode: 'closed' }), 'mode change body');
    await page.waitForFunction(() => document.getElementById('modes-body').textContent.includes('closed'), null, { timeout: 5000 });

    // Keyboard: the first Tab reaches the skip link, which leads to the controls.
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction(() => window.__dashboard && window.__dashboard.updates >= 1);
    await page.keyboard.press('Tab');
    check(await page.evaluate(() => document.activeElement.className === 'skip'), 'skip link first in tab order');

    check(errors.length === 0, 'no script errors: ' + errors.join(' | '));
    const shot = path.join(screenshotDir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    log('screenshot ' + shot);
  } finally {
    await page.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
