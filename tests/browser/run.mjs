#!/usr/bin/env node
// Runs browser tests in Debian's headless Chromium through playwright-core:
//   node tests/browser/run.mjs <test.mjs> ...
// Each test module exports `default async function (ctx)`, with ctx = { browser, screenshotDir,
// log, check }; `check(cond, message)` throws on failure. Every test gets TEST_TIMEOUT_MS (default
// 60 s); the runner ends with the line "N passed, N failed" and exits non-zero on any failure.
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (default: the current directory).
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const screenshotDir = path.resolve(process.env.SCREENSHOT_DIR || '.');
const timeoutMs = Number(process.env.TEST_TIMEOUT_MS || 60000);
const files = process.argv.slice(2);

if (files.length === 0) {
  console.error('usage: node tests/browser/run.mjs <test.mjs> ...');
  process.exit(2);
}
if (!existsSync(executablePath)) {
  console.error(`${executablePath} not found: install Debian's chromium (apt-get install chromium)`);
  process.exit(2);
}
mkdirSync(screenshotDir, { recursive: true });

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

const browser = await withTimeout(chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  timeout: 30000,
}), 40000, 'launching chromium');

let passed = 0;
let failed = 0;
for (const file of files) {
  const name = path.basename(file, '.mjs');
  const started = Date.now();
  try {
    const mod = await import(pathToFileURL(path.resolve(file)).href);
    const ctx = {
      browser,
      screenshotDir,
      log: (...a) => console.log(`  [${name}]`, ...a),
      check: (cond, message) => { if (!cond) throw new Error('check failed: ' + message); },
    };
    await withTimeout(mod.default(ctx), timeoutMs, name);
    passed++;
    console.log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name} (${Date.now() - started} ms): ${e && e.stack ? e.stack : e}`);
  }
}
await withTimeout(browser.close(), 10000, 'closing chromium').catch((e) => console.error(e.message));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
