// `make bench` (scenario "solve"): the median time a real headless Chromium takes to get through
// the proof-of-work challenge at each difficulty, from the first request to landing back on the
// page — what a visitor waits. One shield per difficulty in front of the demo app; each run is a
// fresh browser context (no clearance). Prints a table and writes BENCH_SOLVE_JSON if set.
// Env: BENCH_SOLVE_BITS="12 14 16 18 20", BENCH_SOLVE_RUNS=5.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { startDemoApp, startShield, stopAll, tempDir } from './lib/gatehouse.mjs';

const bitsList = (process.env.BENCH_SOLVE_BITS || '12 14 16 18 20').split(/\s+/).map(Number);
const runs = Number(process.env.BENCH_SOLVE_RUNS || 5);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export default async function ({ browser, log, check }) {
  const rows = [];
  try {
    const dir = tempDir();
    const appPort = await startDemoApp(dir);
    for (const bits of bitsList) {
      const port = await startShield(dir, appPort, `challenge: { levels: [{rate: 0, bits: ${bits}}], max_bits: 32 }
routes:
  - name: page
    match: { path_prefix: /signup }
    class: signup
    require_clearance: true
  - name: app
`);
      const times = [];
      for (let i = 0; i < runs; i++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        const started = performance.now();
        await page.goto(`http://127.0.0.1:${port}/signup`);
        await page.locator('input[name=username]').waitFor({ timeout: 120000 });
        times.push(performance.now() - started);
        await context.close();
      }
      const row = { bits, runs, median_ms: Math.round(median(times)),
                    min_ms: Math.round(Math.min(...times)), max_ms: Math.round(Math.max(...times)) };
      rows.push(row);
      log(`${bits} bits: median ${row.median_ms} ms (min ${row.min_ms}, max ${row.max_ms}) over ${runs}`);
    }
  } finally {
    await stopAll();
  }
  console.log('\nbits  expected hashes  median solve (ms)  min     max');
  for (const r of rows) {
    console.log(`${String(r.bits).padEnd(5)} ${String(2 ** r.bits).padEnd(16)} ${String(r.median_ms).padEnd(18)} ` +
                `${String(r.min_ms).padEnd(7)} ${r.max_ms}`);
  }
  console.log(`(${os.cpus().length} CPUs; headless Chromium; the page starts up to 4 workers)`);
  if (process.env.BENCH_SOLVE_JSON) writeFileSync(process.env.BENCH_SOLVE_JSON, JSON.stringify(rows, null, 1));
  check(rows.length === bitsList.length, 'every difficulty measured');
}
