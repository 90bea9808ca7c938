// The runner-wasm kernel benchmark, in Node 20, single thread.
//
//   node runner-wasm/bench/kernels.mjs [--no-build] [--relaxed] [--wall] [--only peak,gemm,mr,conv,models,misc]
//
// Builds `examples/kernel_bench.rs` for wasm32 (release, `+simd128`; with `--relaxed` also `+relaxed-simd`, which
// Node 20 runs behind `--experimental-wasm-relaxed-simd`), then runs each build in a child Node with
// `--no-liftoff`, so that every kernel is timed as TurboFan code rather than in the baseline tier.
//
// Every number is the best of 5 rounds of ≥ 30 ms. The clock is the process's CPU time (`process.cpuUsage`), not
// wall time: the machine is shared, and CPU time does not count the time another process holds the core (`--wall`
// switches to `performance.now()`). The load average is printed with the results. GFLOP/s count 2 flops per
// multiply-add of the *direct* convolution, so Winograd shows as an effective rate above the machine's peak.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const PEAK_CLAIMED = 56; // GFLOP/s per core on this machine (wasm SIMD128, mul + add)

// [h, w, c, o, kh, kw, stride, pad, groups, count]: the convolutions of the fixture models at 224×224, batch 1
// (read from the ONNX files with shape inference), and their fully connected layers as [m, n, k].
const MODELS = {
  'ResNet-50': {
    conv: [
      [224, 224, 3, 64, 7, 7, 2, 3, 1, 1], [56, 56, 64, 64, 1, 1, 1, 0, 1, 1], [56, 56, 64, 64, 3, 3, 1, 1, 1, 3],
      [56, 56, 64, 256, 1, 1, 1, 0, 1, 4], [56, 56, 256, 64, 1, 1, 1, 0, 1, 2], [56, 56, 256, 128, 1, 1, 1, 0, 1, 1],
      [56, 56, 128, 128, 3, 3, 2, 1, 1, 1], [28, 28, 128, 512, 1, 1, 1, 0, 1, 4], [56, 56, 256, 512, 1, 1, 2, 0, 1, 1],
      [28, 28, 512, 128, 1, 1, 1, 0, 1, 3], [28, 28, 128, 128, 3, 3, 1, 1, 1, 3], [28, 28, 512, 256, 1, 1, 1, 0, 1, 1],
      [28, 28, 256, 256, 3, 3, 2, 1, 1, 1], [14, 14, 256, 1024, 1, 1, 1, 0, 1, 6],
      [28, 28, 512, 1024, 1, 1, 2, 0, 1, 1], [14, 14, 1024, 256, 1, 1, 1, 0, 1, 5],
      [14, 14, 256, 256, 3, 3, 1, 1, 1, 5], [14, 14, 1024, 512, 1, 1, 1, 0, 1, 1], [14, 14, 512, 512, 3, 3, 2, 1, 1, 1],
      [7, 7, 512, 2048, 1, 1, 1, 0, 1, 3], [14, 14, 1024, 2048, 1, 1, 2, 0, 1, 1], [7, 7, 2048, 512, 1, 1, 1, 0, 1, 2],
      [7, 7, 512, 512, 3, 3, 1, 1, 1, 2],
    ],
    fc: [[1, 1000, 2048]],
  },
  MobileNetV2: {
    conv: [
      [224, 224, 3, 32, 3, 3, 2, 1, 1, 1], [112, 112, 32, 32, 3, 3, 1, 1, 32, 1], [112, 112, 32, 16, 1, 1, 1, 0, 1, 1],
      [112, 112, 16, 96, 1, 1, 1, 0, 1, 1], [112, 112, 96, 96, 3, 3, 2, 1, 96, 1], [56, 56, 96, 24, 1, 1, 1, 0, 1, 1],
      [56, 56, 24, 144, 1, 1, 1, 0, 1, 2], [56, 56, 144, 144, 3, 3, 1, 1, 144, 1], [56, 56, 144, 24, 1, 1, 1, 0, 1, 1],
      [56, 56, 144, 144, 3, 3, 2, 1, 144, 1], [28, 28, 144, 32, 1, 1, 1, 0, 1, 1], [28, 28, 32, 192, 1, 1, 1, 0, 1, 3],
      [28, 28, 192, 192, 3, 3, 1, 1, 192, 2], [28, 28, 192, 32, 1, 1, 1, 0, 1, 2],
      [28, 28, 192, 192, 3, 3, 2, 1, 192, 1], [14, 14, 192, 64, 1, 1, 1, 0, 1, 1], [14, 14, 64, 384, 1, 1, 1, 0, 1, 4],
      [14, 14, 384, 384, 3, 3, 1, 1, 384, 4], [14, 14, 384, 64, 1, 1, 1, 0, 1, 3], [14, 14, 384, 96, 1, 1, 1, 0, 1, 1],
      [14, 14, 96, 576, 1, 1, 1, 0, 1, 3], [14, 14, 576, 576, 3, 3, 1, 1, 576, 2], [14, 14, 576, 96, 1, 1, 1, 0, 1, 2],
      [14, 14, 576, 576, 3, 3, 2, 1, 576, 1], [7, 7, 576, 160, 1, 1, 1, 0, 1, 1], [7, 7, 160, 960, 1, 1, 1, 0, 1, 3],
      [7, 7, 960, 960, 3, 3, 1, 1, 960, 3], [7, 7, 960, 160, 1, 1, 1, 0, 1, 2], [7, 7, 960, 320, 1, 1, 1, 0, 1, 1],
      [7, 7, 320, 1280, 1, 1, 1, 0, 1, 1],
    ],
    fc: [[1, 1000, 1280]],
  },
  SqueezeNet: {
    conv: [
      [224, 224, 3, 64, 3, 3, 2, 0, 1, 1], [55, 55, 64, 16, 1, 1, 1, 0, 1, 1], [55, 55, 16, 64, 1, 1, 1, 0, 1, 2],
      [55, 55, 16, 64, 3, 3, 1, 1, 1, 2], [55, 55, 128, 16, 1, 1, 1, 0, 1, 1], [27, 27, 128, 32, 1, 1, 1, 0, 1, 1],
      [27, 27, 32, 128, 1, 1, 1, 0, 1, 2], [27, 27, 32, 128, 3, 3, 1, 1, 1, 2], [27, 27, 256, 32, 1, 1, 1, 0, 1, 1],
      [13, 13, 256, 48, 1, 1, 1, 0, 1, 1], [13, 13, 48, 192, 1, 1, 1, 0, 1, 2], [13, 13, 48, 192, 3, 3, 1, 1, 1, 2],
      [13, 13, 384, 48, 1, 1, 1, 0, 1, 1], [13, 13, 384, 64, 1, 1, 1, 0, 1, 1], [13, 13, 64, 256, 1, 1, 1, 0, 1, 2],
      [13, 13, 64, 256, 3, 3, 1, 1, 1, 2], [13, 13, 512, 64, 1, 1, 1, 0, 1, 1], [13, 13, 512, 1000, 1, 1, 1, 0, 1, 1],
    ],
    fc: [],
  },
};
const ALGORITHMS = ['chosen', 'gemm', 'indirect', 'depthwise', 'winograd-F2', 'winograd-F4', 'im2col'];

function build(features, targetDir) {
  const env = {
    ...process.env,
    CARGO_TARGET_DIR: targetDir,
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS: `-C target-feature=${features}`,
  };
  const cargo = ['build', '--release', '--target', 'wasm32-unknown-unknown', '-p', 'wdnn-runner-wasm', '--example', 'kernel_bench'];
  console.error(`building (${features}) into ${targetDir} …`);
  const r = spawnSync('cargo', cargo, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`cargo build failed (${features})`);
  return join(targetDir, 'wasm32-unknown-unknown', 'release', 'examples', 'kernel_bench.wasm');
}

async function child(wasmPath) {
  const wall = flag('--wall');
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const now = wall ? () => performance.now() : cpuMs;
  const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), { bench: { now } });
  const e = instance.exports;
  const only = option('--only', 'peak,gemm,mr,conv,models,misc').split(',');
  let p = e.instruction_set();
  const mem = new Uint8Array(e.memory.buffer);
  let isa = '';
  while (mem[p]) isa += String.fromCharCode(mem[p++]);
  const gflops = (flops, ms) => flops / ms / 1e6;
  const fmt = (v, d = 1) => (v < 0 ? '—' : v.toFixed(d));
  console.log(`\n## ${isa} (clock: ${wall ? 'wall' : 'process CPU time'}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);

  let peak = 0;
  if (only.includes('peak')) {
    console.log('\n| peak loop | GFLOP/s |\n|---|---|');
    for (const chains of [8, 10, 12, 14]) {
      const iters = 1_000_000;
      const g = gflops(2 * 4 * chains * iters, e.bench_peak(chains, iters));
      peak = Math.max(peak, g);
      console.log(`| ${chains} dependent mul→add chains | ${fmt(g)} |`);
    }
    for (const chains of [8, 12]) {
      const iters = 1_000_000;
      const g = gflops(2 * 4 * chains * iters, e.bench_peak_products(chains, iters));
      peak = Math.max(peak, g);
      console.log(`| ${chains} accumulators of independent products | ${fmt(g)} |`);
    }
    console.log(`\nmeasured peak: ${fmt(peak)} GFLOP/s (the machine's figure: ${PEAK_CLAIMED})`);
  }
  const frac = (g) => `${((100 * g) / PEAK_CLAIMED).toFixed(0)}%${peak ? ` / ${((100 * g) / peak).toFixed(0)}%` : ''}`;

  if (only.includes('mr')) {
    console.log('\n| GEMM m×n×k | ' + [4, 5, 6].flatMap((mr) => [`${mr}×8 loadsplat`, `${mr}×8 shuffle`]).join(' | ') + ' |');
    console.log('|---|' + '---|'.repeat(6));
    for (const [m, n, k] of [[3136, 64, 64], [3136, 256, 64], [784, 128, 512], [196, 256, 1024], [12544, 16, 32], [49, 2048, 512]]) {
      const cells = [];
      for (const mr of [4, 5, 6]) for (const sh of [0, 1]) cells.push(fmt(gflops(2 * m * n * k, e.bench_gemm(m, n, k, mr, sh))));
      console.log(`| ${m}×${n}×${k} | ${cells.join(' | ')} |`);
    }
  }

  const convTime = (l, algo, mr = 4) => e.bench_conv(l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], algo, mr);
  const macs = (l) => {
    const [h, w, c, o, kh, kw, s, pad, g] = l;
    const oh = Math.floor((h + 2 * pad - kh) / s) + 1;
    const ow = Math.floor((w + 2 * pad - kw) / s) + 1;
    return oh * ow * o * (c / g) * kh * kw;
  };
  if (only.includes('conv') || only.includes('models')) {
    for (const [model, { conv, fc }] of Object.entries(MODELS)) {
      console.log(`\n### ${model}: convolutions (GFLOP/s of the direct convolution; % of ${PEAK_CLAIMED} / of measured peak)\n`);
      console.log('| h×w×c → o | kernel | ×n | chosen | GFLOP/s | % peak | alternatives (GFLOP/s) |');
      console.log('|---|---|---|---|---|---|---|');
      let total = 0;
      let flops = 0;
      const byKind = {};
      for (const l of conv) {
        const f = 2 * macs(l);
        const chosen = convTime(l, 0);
        const alts = [];
        for (let a = 1; a < ALGORITHMS.length; a++) {
          const t = convTime(l, a);
          if (t > 0) alts.push(`${ALGORITHMS[a]} ${fmt(gflops(f, t))}`);
        }
        total += chosen * l[9];
        flops += f * l[9];
        const g = gflops(f, chosen);
        const kind = l[8] === l[2] && l[8] > 1 ? 'dw ' : '';
        const cls = kind ? 'depthwise' : l[4] === 1 && l[5] === 1 ? '1×1' : `${l[4]}×${l[5]}/${l[6]}`;
        byKind[cls] = byKind[cls] ?? { ms: 0, flops: 0 };
        byKind[cls].ms += chosen * l[9];
        byKind[cls].flops += f * l[9];
        console.log(`| ${l[0]}×${l[1]}×${l[2]} → ${l[3]} | ${kind}${l[4]}×${l[5]}/${l[6]} | ${l[9]} | ${ALGORITHMS[0]} | ${fmt(g)} | ${frac(g)} | ${alts.join(', ')} |`);
      }
      for (const [m, n, k] of fc) {
        const t = e.bench_gemm(m, n, k, 1, 0);
        total += t;
        flops += 2 * m * n * k;
        byKind.FC = { ms: t, flops: 2 * m * n * k };
        console.log(`| FC ${k} → ${n} | GEMM ${m}×${n}×${k} | 1 | gemm 1×8 | ${fmt(gflops(2 * m * n * k, t))} | | |`);
      }
      const parts = Object.entries(byKind).map(([k, v]) => `${k} ${v.ms.toFixed(1)} ms (${fmt(gflops(v.flops, v.ms))} GFLOP/s)`);
      console.log(`\n${model} by kind: ${parts.join('; ')}`);
      console.log(`\n**${model}**: all convolutions${fc.length ? ' + FC' : ''} ${total.toFixed(1)} ms, ${(flops / 1e9).toFixed(2)} GFLOP → ${fmt(gflops(flops, total))} GFLOP/s effective (${frac(gflops(flops, total))})`);
    }
  }

  if (only.includes('misc')) {
    console.log('\n| other kernel | time | throughput |\n|---|---|---|');
    const gbs = (bytes, ms) => `${(bytes / ms / 1e6).toFixed(1)} GB/s`;
    let t = e.bench_max_pool(112, 112, 64);
    console.log(`| max pool 3×3/2, 112×112×64 | ${t.toFixed(3)} ms | ${gbs(4 * (112 * 112 * 64 + 56 * 56 * 64), t)} |`);
    t = e.bench_elementwise(56 * 56 * 256, 0);
    console.log(`| add 56×56×256 + 56×56×256 | ${t.toFixed(3)} ms | ${gbs(12 * 56 * 56 * 256, t)} |`);
    t = e.bench_elementwise(112 * 112 * 96, 1);
    console.log(`| ReLU6 112×112×96 | ${t.toFixed(3)} ms | ${gbs(8 * 112 * 112 * 96, t)} |`);
    t = e.bench_elementwise(56 * 56 * 64, 2);
    console.log(`| sigmoid 56×56×64 | ${t.toFixed(3)} ms | ${((56 * 56 * 64) / t / 1e6).toFixed(2)} G values/s |`);
    t = e.bench_softmax_reduce(1000, 0, 0);
    console.log(`| softmax 1000 | ${(t * 1000).toFixed(2)} µs | |`);
    t = e.bench_softmax_reduce(0, 49, 2048);
    console.log(`| mean over 7×7 of 7×7×2048 | ${(t * 1000).toFixed(2)} µs | ${gbs(4 * 49 * 2048, t)} |`);
  }
}

if (flag('--child')) {
  await child(option('--child', ''));
} else {
  const builds = [['+simd128', join(root, 'target', 'kernel-bench', 'simd128')]];
  if (flag('--relaxed')) builds.push(['+simd128,+relaxed-simd', join(root, 'target', 'kernel-bench', 'relaxed-simd')]);
  const wasms = builds.map(([features, dir]) =>
    flag('--no-build') ? join(dir, 'wasm32-unknown-unknown', 'release', 'examples', 'kernel_bench.wasm') : build(features, dir),
  );
  for (const wasm of wasms) {
    const nodeArgs = ['--no-liftoff', '--experimental-wasm-relaxed-simd', fileURLToPath(import.meta.url), ...args, '--child', wasm];
    const r = spawnSync(process.execPath, nodeArgs, { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
