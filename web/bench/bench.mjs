// One benchmark configuration in a fresh Node process (so that cold start is real and each engine sets its threads
// before its module starts): `cargo xtask bench-wasm` runs it once per engine, thread count and model.
//
//   node bench.mjs --engine wdnn|ort --threads N --runs N --warmup N --input FILE.npy
//                  [--bundle DIR --package DIR --flavor auto|simd128|relaxed-simd|simd128-threads] [--onnx FILE]
//
// wdnn with --threads N > 1 runs the threaded module (its N - 1 workers start with the module, inside the cold start).
//
// Prints one JSON line: {engine, threads, cold_ms: {compile_load, first_run, total}, runs_ms: [...], median_ms,
// download_bytes: {raw, gzip}}. Cold start is measured from before the engine's import to the end of the first run.

import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const threads = Number(args.threads ?? 1);
const runs = Number(args.runs ?? 20);
const warmup = Number(args.warmup ?? 3);

async function sizes(files) {
  let raw = 0, gzip = 0;
  for (const f of files) {
    const bytes = await readFile(f);
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gzip };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

let session, feeds, run, download;
const t0 = performance.now();
if (args.engine === 'wdnn') {
  const pkg = resolve(args.package);
  const wdnn = await import(pathToFileURL(join(pkg, 'index.mjs')).href);
  const { parseNpy } = await import(pathToFileURL(join(pkg, 'npy.mjs')).href);
  wdnn.env.wasm.flavor = args.flavor ?? 'auto';
  wdnn.env.wasm.numThreads = threads;
  session = await wdnn.load(args.bundle, { backends: [args.backend ?? 'wasm'] });
  const input = parseNpy(new Uint8Array(await readFile(args.input)));
  feeds = { [session.inputs[0].name]: input };
  run = () => session.run(feeds);
  const { flavor, threads: used } = await wdnn.info();
  if (used !== threads) throw new Error(`ran on ${used} threads, not ${threads}`);
  const files = ['index.mjs', 'tensor.mjs', 'bundle.mjs', `${flavor}/wdnn_web.js`];
  if (threads > 1) files.push('thread-worker.mjs');
  const js = files.map((f) => join(pkg, f));
  download = await sizes([...js, join(pkg, flavor, 'wdnn_web_bg.wasm')]);
  download.flavor = flavor;
  if (args.flavor && args.flavor !== 'auto' && flavor !== args.flavor) throw new Error(`ran on ${flavor}, not ${args.flavor}`);
} else if (args.engine === 'ort') {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  session = await ort.InferenceSession.create(await readFile(args.onnx), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  // The same .npy input, read without the wdnn package.
  const bytes = new Uint8Array(await readFile(args.input));
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen));
  if (!header.includes("'<f4'")) throw new Error(`${args.input}: not float32`);
  const dims = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const data = new Float32Array(bytes.slice(10 + headerLen).buffer);
  feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
  run = () => session.run(feeds);
  // What a browser app downloads for the wasm EP: the ESM entry and the SIMD threaded module it loads.
  // (Its `exports` hide package.json, so the folder is found from the resolved entry point.)
  const require = createRequire(import.meta.url);
  let dist = dirname(require.resolve('onnxruntime-web'));
  while (!(await stat(join(dist, 'package.json')).catch(() => null))) dist = dirname(dist);
  download = await sizes(['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']
    .map((f) => join(dist, 'dist', f)));
} else {
  throw new Error('--engine wdnn|ort');
}
const t1 = performance.now();
await run();
const t2 = performance.now();
for (let i = 0; i < warmup; i++) await run();
const times = [];
for (let i = 0; i < runs; i++) {
  const a = performance.now();
  await run();
  times.push(performance.now() - a);
}
const result = {
  engine: args.engine,
  threads,
  cold_ms: { compile_load: t1 - t0, first_run: t2 - t1, total: t2 - t0 },
  runs_ms: times,
  median_ms: median(times),
  download_bytes: download,
};
console.log(JSON.stringify(result));
process.exit(0);
