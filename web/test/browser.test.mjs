// The package and the demo page in headless Chromium (Debian's `chromium`, driven by playwright-core), WebGPU
// through SwiftShader with --enable-unsafe-webgpu. `cargo xtask browser-test` serves the site and runs this with:
//   WDNN_SITE         the site with COOP/COEP (http://127.0.0.1:PORT)
//   WDNN_SITE_PLAIN   the same site without them
//   WDNN_CHROMIUM     the browser binary
//   WDNN_SCREENSHOTS  where each demo state's screenshot goes
//   WDNN_STYLES       the style indices with a native reference output (/expected/style<k>.fallback.npy)

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through \`cargo xtask browser-test\``);
  return v;
};
const SITE = need('WDNN_SITE');
const SITE_PLAIN = need('WDNN_SITE_PLAIN');
const CHROMIUM = need('WDNN_CHROMIUM');
const SHOTS = need('WDNN_SCREENSHOTS');
const STYLES = need('WDNN_STYLES').split(',').map(Number);
const ALL_BACKENDS = ['webgpu', 'wasm', 'fallback'];
/** How much the JS heap and the wasm memory may grow over 50 load/run/dispose cycles, after 5 warm-up cycles. */
const HEAP_BOUND = 16 << 20;
const WASM_BOUND = 32 << 20;

const BASE_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--js-flags=--expose-gc', '--enable-precise-memory-info'];

const browsers = [];

/** A fresh persistent context (playwright refuses --user-data-dir in args: the directory is its first argument). */
async function launch({ webgpu = true } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'wdnn-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1180, height: 900 },
    args: webgpu ? [...BASE_ARGS, '--enable-unsafe-webgpu'] : BASE_ARGS,
  });
  browsers.push({ context, dir });
  return context;
}

/** Opens the demo page (no automatic first run) and waits for the module to be ready. */
async function open(context, { site = SITE, query = 'autorun=0&runs=2' } = {}) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${site}/demo/?${query}`);
  await page.waitForFunction(() => globalThis.demo !== undefined, null, { timeout: 30_000 });
  page.errors = errors;
  return page;
}

let context;
let compiled;

before(async () => {
  context = await launch();
  const page = await open(context);
  compiled = (await page.evaluate(() => demo.wdnn.info())).backends;
  await page.close();
});

after(async () => {
  for (const { context: c, dir } of browsers) {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/** The backends this package can be checked on: every one compiled in (the package must have webgpu and
 * fallback; wasm joins when the package compiles it in). */
function checkedBackends() {
  for (const b of ['webgpu', 'fallback']) assert.ok(compiled.includes(b), `the package lacks ${b}: it has ${compiled}`);
  return ALL_BACKENDS.filter((b) => compiled.includes(b));
}

test('the demo classifies chelsea.png as Egyptian cat on each backend', async () => {
  const page = await open(context);
  for (const backend of checkedBackends()) {
    await page.evaluate((b) => demo.set({ backend: b }), backend);
    const r = await page.evaluate(() => demo.classify('/images/chelsea.png'));
    assert.equal(r.backend, backend);
    assert.equal(r.top5[0].label, 'Egyptian cat', `${backend}: top-5 ${JSON.stringify(r.top5)}`);
    console.log(`classify ${backend}: ${r.top5[0].label} ${r.top5[0].probability.toFixed(4)}, load ${r.loadMs.toFixed(0)} ms, first ${r.firstMs.toFixed(0)} ms, steady ${r.steadyMs.toFixed(0)} ms`);
    await page.screenshot({ path: join(SHOTS, `classify-${backend}.png`), fullPage: true });
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the style network in the page matches the native fallback backend within rel. L2 1e-3 on each backend', async () => {
  const page = await open(context, { query: 'autorun=0&runs=1&tab=style' });
  for (const backend of checkedBackends()) {
    await page.evaluate((b) => demo.set({ backend: b }), backend);
    const errors = await page.evaluate(async (styles) => {
      const npy = async (url) => {
        const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
        const headerLength = bytes[8] | (bytes[9] << 8);
        return new Float32Array(bytes.slice(10 + headerLength).buffer);
      };
      const image = await npy('/fixtures/expected/multistyle26/content.input.npy');
      const out = {};
      for (const k of styles) {
        const expected = await npy(`/expected/style${k}.fallback.npy`);
        const { data } = await demo.stylizeArray(image, k);
        let d = 0;
        let n = 0;
        for (let i = 0; i < expected.length; i++) {
          d += (data[i] - expected[i]) ** 2;
          n += expected[i] ** 2;
        }
        out[k] = Math.sqrt(d / n);
      }
      return out;
    }, STYLES);
    for (const [k, e] of Object.entries(errors)) assert.ok(e <= 1e-3, `${backend} style ${k}: rel. L2 ${e}`);
    console.log(`style ${backend}: rel. L2 ${JSON.stringify(errors)}`);
    const r = await page.evaluate(() => demo.stylize('/images/chelsea.png', 9));
    assert.equal(r.backend, backend);
    await page.screenshot({ path: join(SHOTS, `style-${backend}.png`), fullPage: true });
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('without --enable-unsafe-webgpu the page falls through to the CPU and shows why', async () => {
  const plain = await launch({ webgpu: false });
  const page = await open(plain, { site: SITE_PLAIN });
  const r = await page.evaluate(() => demo.classify('/images/chelsea.png'));
  const expected = compiled.includes('wasm') ? 'wasm' : 'fallback';
  assert.equal(r.backend, expected);
  assert.equal(r.skipped[0].backend, 'webgpu');
  assert.match(r.skipped[0].reason, /unavailable/);
  assert.equal(r.top5[0].label, 'Egyptian cat');
  const shown = await page.textContent('#skipped');
  assert.match(shown, /webgpu.*unavailable/);
  assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), false);
  await page.screenshot({ path: join(SHOTS, 'no-webgpu.png'), fullPage: true });
  await page.close();
});

test('progress rises monotonically to the total, and a second load (and visit) is served from the cache', async () => {
  const page = await open(context);
  await page.evaluate(() => caches.delete(demo.wdnn.CACHE_NAME));
  const requested = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  const first = await page.evaluate(() => demo.load('/models/mobilenetv2/', { backends: ['fallback'], cache: true }));
  assert.ok(first.events.length > 2, `only ${first.events.length} progress events`);
  let last = [0, 0];
  for (const [done, total] of first.events) {
    assert.ok(done >= last[0] && total >= last[1] && done <= total, `progress went ${last} -> ${[done, total]}`);
    last = [done, total];
  }
  assert.ok(last[1] > 1 << 20 && last[0] === last[1], `progress ended at ${last}`);
  const files = (list) => list.filter((p) => p.startsWith('/models/mobilenetv2/') && !p.endsWith('manifest.wdnn'));
  assert.deepEqual(files(requested).sort(), ['/models/mobilenetv2/fallback.graph.wdnn', '/models/mobilenetv2/fallback.weights.wdnn']);

  requested.length = 0;
  const second = await page.evaluate(() => demo.load('/models/mobilenetv2/', { backends: ['fallback'], cache: true }));
  assert.deepEqual(files(requested), [], 'the second load downloaded bundle files');
  assert.deepEqual(second.events.at(-1), last);

  // A second visit: a new page of the same browser profile, loading from the cache.
  await page.close();
  const again = await open(context);
  const visited = [];
  again.on('request', (r) => visited.push(new URL(r.url()).pathname));
  const r = await again.evaluate(async () => {
    demo.set({ backend: 'fallback', cache: true });
    return demo.classify('/images/chelsea.png');
  });
  assert.equal(r.top5[0].label, 'Egyptian cat');
  assert.deepEqual(files(visited), [], 'the second visit downloaded bundle files');
  await again.close();
});

test('a bundle with one flipped byte is refused in the page, naming the file and the chunk', async () => {
  const page = await open(context);
  const message = await page.evaluate(() => demo.load('/models/mobilenetv2-damaged/', { backends: ['fallback'], cache: false })
    .then(() => 'loaded', (e) => e.message));
  assert.match(message, /fallback\.weights\.wdnn/);
  assert.match(message, /weight chunk \d+ of \d+ .* is corrupted/);
  assert.match(await page.textContent('#error'), /chunk \d+/);
  await page.screenshot({ path: join(SHOTS, 'damaged.png'), fullPage: true });
  await page.close();
});

test('on a cross-origin isolated page the wasm backend runs on the threaded module, elsewhere on one thread', async (t) => {
  if (!compiled.includes('wasm')) return t.skip('the package has no wasm backend');
  const probe = await context.newPage();
  const threaded = (await probe.request.get(`${SITE}/wdnn/simd128-threads/wdnn_web.js`)).ok();
  await probe.close();
  if (!threaded) return t.skip('the package has no threaded module (cargo xtask web skipped it: no rust-src)');
  const page = await open(context, { query: 'autorun=0&runs=2&threads=2' });
  assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
  const info = await page.evaluate(() => demo.wdnn.info());
  assert.equal(info.flavor, 'simd128-threads');
  assert.equal(info.threads, 2);
  await page.evaluate(() => demo.set({ backend: 'wasm' }));
  const r = await page.evaluate(() => demo.classify('/images/chelsea.png'));
  assert.equal(r.backend, 'wasm');
  assert.equal(r.top5[0].label, 'Egyptian cat', `top-5 ${JSON.stringify(r.top5)}`);
  console.log(`threaded wasm (2 threads): ${r.top5[0].label} ${r.top5[0].probability.toFixed(4)}, load ${r.loadMs.toFixed(0)} ms, first ${r.firstMs.toFixed(0)} ms, steady ${r.steadyMs.toFixed(0)} ms`);
  assert.deepEqual(page.errors, []);
  await page.close();
  // Without COOP/COEP memory cannot be shared: the same request runs single-threaded.
  const plain = await open(context, { site: SITE_PLAIN, query: 'autorun=0&runs=2&threads=2' });
  const single = await plain.evaluate(() => demo.wdnn.info());
  assert.equal(single.threads, 1);
  assert.ok(!single.flavor.endsWith('-threads'), `flavor ${single.flavor} without isolation`);
  await plain.close();
});

test('the session runs in a Web Worker with the same results', async () => {
  const page = await open(context);
  await page.evaluate(() => demo.set({ backend: 'fallback', worker: true }));
  const r = await page.evaluate(() => demo.classify('/images/chelsea.png'));
  assert.equal(r.top5[0].label, 'Egyptian cat');
  assert.equal(r.backend, 'fallback');
  assert.match(await page.textContent('#chosen'), /worker/);
  await page.screenshot({ path: join(SHOTS, 'worker.png'), fullPage: true });
  await page.close();
});

test('load, run and dispose 50 times in one page without the JS heap or wasm memory growing', async () => {
  const page = await open(context);
  const r = await page.evaluate(async () => {
    const { wdnn } = demo;
    const input = new Float32Array(3 * 224 * 224).fill(0.5);
    const measure = async () => {
      // Two collections with a task turn between them: streams and Cache API responses are finalized late.
      globalThis.gc?.();
      await new Promise((ok) => setTimeout(ok, 100));
      globalThis.gc?.();
      return { heap: performance.memory.usedJSHeapSize, wasm: (await wdnn.info()).memoryBytes };
    };
    let warm;
    const backends = new Set();
    for (let i = 0; i < 50; i++) {
      // The CPU backend: a WebGPU load compiles every pipeline, which takes SwiftShader minutes per load here.
      const s = await wdnn.load('/models/mobilenetv2/', { backends: ['fallback'], cache: true });
      backends.add(s.backend);
      const out = await s.run({ [s.inputNames[0]]: new wdnn.Tensor('float32', input.slice(), [1, 3, 224, 224]) });
      if (out[s.outputNames[0]].data.length !== 1000) throw new Error('wrong output');
      s.dispose();
      if (i === 4) warm = await measure();
    }
    return { warm, end: await measure(), backends: [...backends] };
  });
  console.log(`50 cycles on ${r.backends}: JS heap ${r.warm.heap} -> ${r.end.heap}, wasm memory ${r.warm.wasm} -> ${r.end.wasm}`);
  assert.ok(r.end.heap - r.warm.heap <= HEAP_BOUND, `the JS heap grew by ${r.end.heap - r.warm.heap} bytes`);
  assert.ok(r.end.wasm - r.warm.wasm <= WASM_BOUND, `wasm memory grew by ${r.end.wasm - r.warm.wasm} bytes`);
  await page.close();
});
