#!/usr/bin/env node
// The Node command line of the wdnn package, with the contract of `cargo xtask run`:
//
//   node cli.mjs run BUNDLE [--backend auto|wasm|fallback] --input NAME=FILE.npy … [--out-dir DIR] [--runs N]
//                    [--labels labels.json] [--flavor auto|simd128|relaxed-simd|simd128-threads] [--threads N]
//
// It writes each output as DIR/<name>.npy (characters outside [A-Za-z0-9._-] become `_`) and, with --runs N, runs
// the model N more times and prints the median milliseconds per run. `--labels` prints the first output's top 5.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import * as wdnn from './index.mjs';
import { formatNpy, parseNpy } from './npy.mjs';

const USAGE = `usage: node cli.mjs run BUNDLE [--backend auto|wasm|fallback] --input NAME=FILE.npy ... \\
         [--out-dir DIR] [--runs N] [--labels labels.json] [--flavor auto|simd128|relaxed-simd|simd128-threads] [--threads N]`;

class UsageError extends Error {}

function parseArgs(argv) {
  const [command, ...rest] = argv;
  if (command !== 'run') throw new UsageError(command ? `unknown command \`${command}\`` : 'no command');
  const args = { bundle: null, backend: 'auto', inputs: [], outDir: null, runs: 0, labels: null, flavor: 'auto', threads: 0 };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = () => {
      if (i + 1 >= rest.length) throw new UsageError(`${flag} needs a value`);
      return rest[++i];
    };
    switch (flag) {
      case '--backend': args.backend = value(); break;
      case '--input': {
        const v = value();
        const eq = v.indexOf('=');
        if (eq <= 0) throw new UsageError(`--input expects NAME=FILE.npy, got \`${v}\``);
        args.inputs.push([v.slice(0, eq), v.slice(eq + 1)]);
        break;
      }
      case '--out-dir': args.outDir = value(); break;
      case '--runs': {
        args.runs = Number(value());
        if (!Number.isInteger(args.runs) || args.runs < 1) throw new UsageError('--runs expects a positive integer');
        break;
      }
      case '--labels': args.labels = value(); break;
      case '--flavor': args.flavor = value(); break;
      case '--threads': args.threads = Number(value()); break;
      default:
        if (flag.startsWith('--') || args.bundle !== null) throw new UsageError(`unexpected argument \`${flag}\``);
        args.bundle = flag;
    }
  }
  if (args.bundle === null) throw new UsageError('no BUNDLE given');
  return args;
}

/** An output name as a file name: every character outside [A-Za-z0-9._-] becomes `_`. */
export function safeFileName(name) {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function run(args) {
  wdnn.env.wasm.flavor = args.flavor;
  wdnn.env.wasm.numThreads = args.threads;
  const backends = args.backend === 'auto' ? wdnn.DEFAULT_BACKENDS : [args.backend];
  const feeds = {};
  for (const [name, file] of args.inputs) {
    if (name in feeds) throw new UsageError(`input \`${name}\` given twice`);
    feeds[name] = parseNpy(new Uint8Array(await readFile(file)), file);
  }
  const loadStart = performance.now();
  const session = await wdnn.load(args.bundle, { backends });
  const loadMs = performance.now() - loadStart;
  for (const s of session.skipped) console.log(`skipped backend ${s.backend}: ${s.reason}`);
  const { flavor, threads } = await wdnn.info();
  const on = threads > 1 ? `, ${threads} threads` : '';
  console.log(`backend: ${session.backend} (${flavor} module${on}, loaded in ${loadMs.toFixed(1)} ms)`);
  const start = performance.now();
  const outputs = await session.run(feeds);
  console.log(`ran in ${(performance.now() - start).toFixed(1)} ms`);
  if (args.runs > 0) {
    const times = [];
    for (let i = 0; i < args.runs; i++) {
      const t = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t);
    }
    console.log(`median of ${args.runs} runs: ${median(times).toFixed(3)} ms`);
  }
  if (args.labels) {
    const names = JSON.parse(await readFile(args.labels, 'utf8'));
    const [name, first] = Object.entries(outputs)[0] ?? [];
    if (!first || first.type !== 'float32') throw new Error('the first output is not a float32 tensor');
    // As `cargo xtask run`: logits become probabilities with a softmax unless they already sum to one.
    let scores = Array.from(first.data);
    const sum = scores.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-3 || scores.some((v) => v < 0)) {
      const max = Math.max(...scores);
      const exp = scores.map((v) => Math.exp(v - max));
      const total = exp.reduce((a, b) => a + b, 0);
      scores = exp.map((v) => v / total);
    }
    const top = [...scores.keys()].sort((a, b) => scores[b] - scores[a]).slice(0, 5);
    console.log(`top-5 of \`${name}\`:`);
    top.forEach((c, rank) => {
      const label = Array.isArray(names) ? names[c] : names[String(c)];
      const text = typeof label === 'string' ? label.split(',')[0].trim() : '?';
      console.log(`  ${rank + 1}. ${text} (class ${c}): ${scores[c].toFixed(4)}`);
    });
  }
  if (args.outDir) {
    await mkdir(args.outDir, { recursive: true });
    for (const [name, tensor] of Object.entries(outputs)) {
      const path = join(args.outDir, `${safeFileName(name)}.npy`);
      await writeFile(path, formatNpy(tensor));
      console.log(`wrote ${path}`);
    }
  }
  session.dispose();
}

try {
  await run(parseArgs(process.argv.slice(2)));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`error: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error(`error: ${e.message}`);
  process.exit(1);
}
