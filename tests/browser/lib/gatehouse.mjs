// Starting the real binary for page tests: the demo app (through `gatehouse demo`) and a shield
// with a test's own policy (`gatehouse run`), on free loopback ports, in a temporary directory.
// Everything started here is killed by stopAll(), which the tests call in `finally`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const binary = path.resolve(
  process.env.GATEHOUSE_BINARY || path.join(here, '../../../build/gatehouse'));

const children = [];
const dirs = [];

export function tempDir() {
  const d = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-browser-'));
  dirs.push(d);
  return d;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function waitFor(child, pattern, ms) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms:\n${out}`)), ms);
    const onData = (d) => {
      out += d.toString();
      const m = out.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}:\n${out}`));
    });
  });
}

function start(args, cwd) {
  const child = spawn(binary, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', (e) => console.error(`cannot start ${binary}: ${e.message}`));
  children.push(child);
  return child;
}

// The demo app on a free port (its shield on another; tests talk to their own shield).
export async function startDemoApp(dir) {
  const shieldPort = await freePort();
  const child = start(['demo', '--listen', `127.0.0.1:${shieldPort}`, '--app', '127.0.0.1:0',
                       '--db', path.join(dir, 'demo.db'), '--workers', '1'], dir);
  const m = await waitFor(child, /The demo app directly:\s+http:\/\/127\.0\.0\.1:(\d+)\//, 20000);
  return Number(m[1]);
}

// A shield with `policy` (YAML after listen/upstreams), in front of 127.0.0.1:appPort.
// `listen`: more keys of the listener (YAML lines indented by four spaces), e.g. its tls section.
export async function startShield(dir, appPort, policy, listen = '') {
  const port = await freePort();
  const file = path.join(dir, `shield-${port}.yaml`);
  writeFileSync(file,
    `server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:${port}\n` + listen +
    `admin: { enabled: false }\n` +
    `upstreams:\n  app: { servers: [127.0.0.1:${appPort}] }\n` +
    `secrets: { key_file: ${dir}/secret.key }\nstate_dir: ${dir}/state\n` +
    `bans: { journal: ${dir}/bans-${port}.journal }\n` + policy);
  const child = start(['run', '--config', file], dir);
  await new Promise((resolve, reject) => {
    const deadline = Date.now() + 15000;
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (child.exitCode !== null) reject(new Error('shield exited: ' + child.exitCode));
        else if (Date.now() > deadline) reject(new Error('shield did not listen'));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
  return port;
}

function waitListening(port, child, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 15000;
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (child.exitCode !== null) reject(new Error(`${what} exited: ${child.exitCode}`));
        else if (Date.now() > deadline) reject(new Error(`${what} did not listen`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

// Gatehouse beside nginx (examples/decide.yaml's shape): an inline listener and a decide
// listener for nginx, with `policy` (YAML routes and sections). Returns both ports.
export async function startDecide(dir, appPort, policy) {
  const inline = await freePort();
  const decide = await freePort();
  const file = path.join(dir, `decide-${decide}.yaml`);
  writeFileSync(file,
    `server: { workers: 1 }\nlisten:\n  - address: 127.0.0.1:${inline}\n` +
    `  - address: 127.0.0.1:${decide}\n    decide: nginx\n` +
    `clients: { trusted_proxies: [127.0.0.1/32] }\nadmin: { enabled: false }\n` +
    `upstreams:\n  app: { servers: [127.0.0.1:${appPort}] }\n` +
    `secrets: { key_file: ${dir}/secret.key }\nstate_dir: ${dir}/state\n` +
    `bans: { journal: ${dir}/bans-${decide}.journal }\n` + policy);
  const child = start(['run', '--config', file], dir);
  await waitListening(decide, child, 'gatehouse');
  return { inline, decide };
}

// Real nginx with examples/nginx-auth-request.conf as shipped, its addresses rewritten.
export async function startNginx(dir, ports) {
  const front = await freePort();
  let conf = readFileSync(path.join(here, '../../../examples/nginx-auth-request.conf'), 'utf8');
  conf = conf.replaceAll('127.0.0.1:8000', `127.0.0.1:${front}`)
    .replaceAll('127.0.0.1:3000', `127.0.0.1:${ports.app}`)
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${ports.inline}`)
    .replaceAll('127.0.0.1:9100', `127.0.0.1:${ports.decide}`)
    .replace('http {\n', `http {\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n`);
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('/usr/sbin/nginx',
    ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g',
     `daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;`],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', (e) => console.error(`cannot start nginx: ${e.message}`));
  children.push(child);
  await waitListening(front, child, 'nginx');
  return front;
}

export async function stopAll() {
  for (const c of children.splice(0)) {
    if (c.exitCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => { c.kill('SIGKILL'); r(); }, 5000);
        c.once('exit', () => { clearTimeout(t); r(); });
      });
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function accountsCreated(appPort) {
  const r = await fetch(`http://127.0.0.1:${appPort}/api/stats`);
  const j = await r.json();
  return j;
}

// After the challenge page at `base`/signup: waits for the browser to solve it and come back to
// the form, checks the clearance cookie, registers a new user named `prefix`NNNNN and checks the
// account page names them. Returns the user name.
// Sign-up behind a proof of work (12 bits: a browser solves it at once), the rest open.
export const challengePolicy = `challenge: { levels: [{rate: 0, bits: 12}], refresh_wait: 1s }
routes:
  - name: signup
    match: { path_prefix: /signup }
    class: signup
    signup: { mode: challenge }
  - name: app
`;

export async function solveAndRegister({ page, context, base, prefix, check }) {
  await page.waitForURL(`${base}/signup`, { timeout: 30000, waitUntil: 'load' });
  await page.locator('input[name=username]').waitFor({ timeout: 30000 });
  const cookies = await context.cookies();
  check(cookies.some((c) => c.name === 'gh_clearance' && c.httpOnly), 'clearance cookie set');
  const user = prefix + Date.now() % 100000;
  await page.fill('input[name=username]', user);
  await page.fill('input[name=email]', `${user}@example.test`);
  await page.fill('input[name=password]', 'correct horse battery');
  await Promise.all([page.waitForURL(`${base}/account`, { timeout: 30000 }),
                     page.click('button[type=submit]')]);
  check((await page.content()).includes(user), 'the account page names the new user');
  return user;
}
