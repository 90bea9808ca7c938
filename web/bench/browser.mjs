// wdnn against onnxruntime-web in the same headless Chromium, on MobileNetV2: `cargo xtask bench-browser` serves the
// site (web/demo/bench.html) and runs this with WDNN_SITE, WDNN_CHROMIUM and WDNN_BENCH_RUNS. Each configuration gets
// a fresh browser profile (nothing cached) and one page visit: cold start is navigation start → first result;
// steady is the median of the runs after it; the download is every response the visit needed (the page's own bench
// files and the input .npy left out), gzip -9 as a server would send it. Prints a markdown table.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { chromium } from 'playwright-core';

const SITE = process.env.WDNN_SITE;
const CHROMIUM = process.env.WDNN_CHROMIUM ?? '/usr/bin/chromium';
const RUNS = Number(process.env.WDNN_BENCH_RUNS ?? 10);
const CONFIGS = (process.env.WDNN_BENCH_CONFIGS ?? 'wdnn:webgpu,wdnn:wasm,wdnn:fallback,ort:wasm,ort:webgpu').split(',');
const ARGS = ['--no-sandbox', '--disable-gpu', '--enable-unsafe-webgpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

async function measure(config) {
  const [engine, backend] = config.split(':');
  const query = engine === 'ort' ? `engine=ort&ep=${backend}` : `engine=wdnn&backend=${backend}`;
  const dir = await mkdtemp(join(tmpdir(), 'wdnn-bench-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const page = await context.newPage();
    const bodies = [];
    page.on('response', async (response) => {
      const path = new URL(response.url()).pathname;
      if (path.startsWith('/demo/') || path.startsWith('/fixtures/') || response.status() !== 200) return;
      bodies.push(response.body().then((b) => ({ path, raw: b.length, gzip: gzipSync(b, { level: 9 }).length }), () => null));
    });
    await page.goto(`${SITE}/demo/bench.html?${query}&runs=${RUNS}`);
    const r = await page.evaluate(() => window.result);
    const files = (await Promise.all(bodies)).filter(Boolean);
    return { config, ...r, rawBytes: files.reduce((a, f) => a + f.raw, 0), gzipBytes: files.reduce((a, f) => a + f.gzip, 0), files };
  } finally {
    await context.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const mib = (n) => (n / (1 << 20)).toFixed(2);
const ms = (n) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const rows = [];
for (const config of CONFIGS) {
  const r = await measure(config);
  console.error(JSON.stringify({ ...r, files: r.files?.map((f) => `${f.path} ${f.gzip}`) }));
  rows.push(r.error
    ? `| ${config} | error: ${r.error} | | | | |`
    : `| ${r.engine} | ${ms(r.coldMs)} | ${ms(r.firstRunMs)} | ${ms(r.steadyMs)} | ${mib(r.gzipBytes)} (${mib(r.rawBytes)} raw) | ${r.top1 === 285 ? 'Egyptian cat' : `class ${r.top1}`} |`);
}
console.log('| engine, backend | cold start ms (page open → first result) | first run ms | steady run ms (median of ' + RUNS + ') | download MiB gzip | top-1 |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
