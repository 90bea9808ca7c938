// Soak of the wasm32 build in one Node process (issue 14): on every backend the package runs in Node, 1000 runs of
// one session and 200 load/run/dispose cycles, with the module's linear memory (WebAssembly.Memory, which grows and
// never shrinks) and the JS heap measured after a warm-up and at the end. A session, tensor or weights buffer that
// is not freed, on either side of the boundary, shows as growth; every run must also give the first run's bytes.
// `cargo xtask web-test` runs it with:
//   WDNN_PACKAGE       the built package (target/web/wdnn)
//   WDNN_SOAK_BUNDLE   errors/tiny_gemm.onnx (y = relu(x W + b), x float32[2,4]) with a descriptor for every backend
//                      the package has, so that the soak costs seconds and measures the runtime, not the kernels

import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through \`cargo xtask web-test\``);
  return v;
};
const wdnn = await import(pathToFileURL(join(resolve(need('WDNN_PACKAGE')), 'index.mjs')).href);
const bundle = need('WDNN_SOAK_BUNDLE');

/** Linear memory may not grow at all after the warm-up: it grows in 64 KiB pages only when the allocator has no
 * free block left, which a loop of same-sized allocations and frees never needs. */
const WASM_BOUND = 0;
/** The JS heap after full collections, which still moves by V8's own bookkeeping (code, feedback, ICs). */
const HEAP_BOUND = 1 << 20;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

/** The module's linear memory and the JS heap, after two full collections with a task turn between them (wrappers
 * that were not disposed are only freed by their finalizers, which run after a collection). */
async function measure() {
  gc();
  await new Promise((ok) => setTimeout(ok, 10));
  gc();
  return { wasm: (await wdnn.info()).memoryBytes, heap: process.memoryUsage().heapUsed };
}

function input(seed) {
  return new wdnn.Tensor('float32', Float32Array.from({ length: 8 }, (_, i) => seed + i * 0.25), [2, 4]);
}

async function runOnce(session, seed) {
  const out = await session.run({ x: input(seed) });
  return new Uint8Array(out.y.data.buffer.slice(0));
}

function report(what, warm, end, ms) {
  console.log(`soak: ${what} in ${ms.toFixed(0)} ms: wasm memory ${warm.wasm} -> ${end.wasm} bytes, ` +
    `JS heap ${warm.heap} -> ${end.heap} bytes (bounds +${WASM_BOUND}, +${HEAP_BOUND})`);
  assert.ok(end.wasm - warm.wasm <= WASM_BOUND, `${what}: wasm memory grew by ${end.wasm - warm.wasm} bytes`);
  assert.ok(end.heap - warm.heap <= HEAP_BOUND, `${what}: the JS heap grew by ${end.heap - warm.heap} bytes`);
}

const { backends } = await wdnn.info();
// Node has no WebGPU adapter: the package's webgpu backend is soaked in Chromium (cargo xtask browser-test).
const nodeBackends = backends.filter((b) => b !== 'webgpu');

test('the package runs in Node on at least the reference backend', () => {
  assert.ok(nodeBackends.includes('fallback'), `backends: ${backends}`);
});

for (const backend of nodeBackends) {
  test(`${backend}: 1000 runs of one session keep wasm memory and the JS heap flat`, async () => {
    const s = await wdnn.load(bundle, { backends: [backend] });
    assert.equal(s.backend, backend);
    const first = await runOnce(s, 0.5);
    assert.notDeepEqual(first, await runOnce(s, -3), 'two inputs give the same output: the check could not tell');
    for (let i = 0; i < 50; i++) await runOnce(s, 0.5);
    const warm = await measure();
    const start = performance.now();
    for (let i = 0; i < 1000; i++) {
      const out = await runOnce(s, 0.5);
      assert.deepEqual(out, first, `run ${i} differs from the first`);
    }
    const ms = performance.now() - start;
    const end = await measure();
    s.dispose();
    report(`${backend}, 1000 runs`, warm, end, ms);
  });

  test(`${backend}: 200 load/run/dispose cycles keep wasm memory and the JS heap flat`, async () => {
    const cycle = async () => {
      const s = await wdnn.load(bundle, { backends: [backend] });
      const out = await runOnce(s, 1);
      s.dispose();
      return out;
    };
    const first = await cycle();
    for (let i = 0; i < 20; i++) await cycle();
    const warm = await measure();
    const start = performance.now();
    for (let i = 0; i < 200; i++) {
      const out = await cycle();
      assert.deepEqual(out, first, `cycle ${i} differs from the first`);
    }
    const ms = performance.now() - start;
    const end = await measure();
    report(`${backend}, 200 load/run/dispose cycles`, warm, end, ms);
  });
}
