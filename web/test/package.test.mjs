// The package's JavaScript surface, in Node's test runner. `cargo xtask web-test` runs it with:
//   WDNN_PACKAGE       the built package (target/web/wdnn)
//   WDNN_TEST_BUNDLE   a MobileNetV2 bundle (input `input` float32[1,3,224,224])
//   WDNN_TEST_INPUT, WDNN_TEST_LOGITS   chelsea.png's input and onnxruntime's logits (.npy)

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through \`cargo xtask web-test\``);
  return v;
};
const pkg = resolve(need('WDNN_PACKAGE'));
const bundleDir = need('WDNN_TEST_BUNDLE');
const wdnn = await import(pathToFileURL(join(pkg, 'index.mjs')).href);
const { parseNpy, formatNpy } = await import(pathToFileURL(join(pkg, 'npy.mjs')).href);
const input = parseNpy(new Uint8Array(await readFile(need('WDNN_TEST_INPUT'))));
const logits = parseNpy(new Uint8Array(await readFile(need('WDNN_TEST_LOGITS'))));

function relL2(a, e) {
  let d = 0, n = 0;
  for (let i = 0; i < e.length; i++) {
    d += (a[i] - e[i]) ** 2;
    n += e[i] ** 2;
  }
  return Math.sqrt(d / n);
}

const argmax = (xs) => xs.reduce((best, v, i) => (v > xs[best] ? i : best), 0);

test('load from a directory falls through unknown backends with reasons and runs', async () => {
  const s = await wdnn.load(bundleDir, { backends: ['webgpu', 'fallback'] });
  assert.equal(s.backend, 'fallback');
  assert.equal(s.skipped.length, 1);
  assert.equal(s.skipped[0].backend, 'webgpu');
  // webgpu is compiled into the package for browsers; Node has no WebGPU adapter (or the bundle no descriptor).
  assert.match(s.skipped[0].reason, /unavailable|no descriptor|not compiled/);
  assert.deepEqual(s.inputs, [{ name: 'input', type: 'float32', dims: [1, 3, 224, 224] }]);
  assert.equal(s.outputs.length, 1);
  assert.deepEqual(s.inputNames, ['input']);
  const out = await s.run({ input });
  const y = out[s.outputNames[0]];
  assert.ok(y instanceof wdnn.Tensor);
  assert.ok(y.data instanceof Float32Array);
  assert.deepEqual([...y.dims], [...s.outputs[0].dims]);
  assert.equal(argmax(y.data), argmax(logits.data));
  s.dispose();
  await assert.rejects(s.run({ input }), /disposed/);
});

test('every compiled backend matches onnxruntime on chelsea within 1e-4', async () => {
  const { backends } = await wdnn.info();
  assert.ok(backends.includes('fallback'));
  for (const backend of backends.filter((b) => b !== 'webgpu' || globalThis.navigator?.gpu)) {
    const s = await wdnn.load(bundleDir, { backends: [backend] });
    assert.equal(s.backend, backend);
    const out = await s.run({ input });
    const err = relL2(Object.values(out)[0].data, logits.data);
    assert.ok(err <= 1e-4, `${backend}: rel L2 ${err}`);
    s.dispose();
  }
});

test('load from a file: URL and from a map of names to bytes', async () => {
  const url = pathToFileURL(resolve(bundleDir)).href;
  const a = await wdnn.InferenceSession.create(url, { backends: ['fallback'] });
  assert.equal(a.backend, 'fallback');
  a.dispose();
  const files = {};
  for (const name of await readdir(bundleDir)) files[name] = new Uint8Array(await readFile(join(bundleDir, name))).buffer;
  let progressed = 0;
  const b = await wdnn.load(new Map(Object.entries(files)), { backends: ['fallback'], onProgress: () => progressed++ });
  assert.ok(progressed > 0, 'onProgress was never called');
  const out = await b.run({ input });
  assert.equal(argmax(Object.values(out)[0].data), argmax(logits.data));
  b.dispose();
});

test('bad bundles and bad inputs are clear errors', async () => {
  await assert.rejects(wdnn.load(join(bundleDir, 'no-such-dir'), { backends: ['fallback'] }), /manifest\.wdnn/);
  await assert.rejects(wdnn.load(bundleDir, { backends: ['webgpu'] }), /no backend could load the model: webgpu: (unavailable|the bundle has no descriptor|not compiled)/);
  await assert.rejects(wdnn.load(bundleDir, { backends: [] }), /no backend was asked for/);
  const files = {};
  for (const name of await readdir(bundleDir)) files[name] = new Uint8Array(await readFile(join(bundleDir, name)));
  const weights = Object.keys(files).find((n) => n.startsWith('fallback') && n.includes('weights'))
    ?? Object.keys(files).find((n) => n !== 'manifest.wdnn' && !n.includes('graph'));
  files[weights] = files[weights].slice(0, files[weights].length - 10);
  await assert.rejects(wdnn.load(files, { backends: ['fallback'] }), /fallback: failed to load/);

  const s = await wdnn.load(bundleDir, { backends: ['fallback'] });
  await assert.rejects(s.run({}), /input `input`: missing/);
  await assert.rejects(s.run({ input, extra: input }), /no such input/);
  await assert.rejects(s.run({ input: new wdnn.Tensor('float32', new Float32Array(3), [3]) }), /shape/);
  await assert.rejects(s.run({ input: new wdnn.Tensor('float64', new Float64Array(input.size), input.dims) }), /dtype/);
  await assert.rejects(s.run({ input: input.data }), /not a wdnn.Tensor/);
  s.dispose();
});

test('Tensor follows ORT and checks its arguments', () => {
  const t = new wdnn.Tensor('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
  assert.ok(t.data instanceof Float32Array);
  assert.deepEqual([t.type, t.size, [...t.dims]], ['float32', 6, [2, 3]]);
  const i = new wdnn.Tensor('int64', [1, 2], [2]);
  assert.ok(i.data instanceof BigInt64Array);
  const inferred = new wdnn.Tensor(new Int32Array(4), [2, 2]);
  assert.equal(inferred.type, 'int32');
  assert.throws(() => new wdnn.Tensor('float32', new Float32Array(5), [2, 3]), /do not fill/);
  assert.throws(() => new wdnn.Tensor('float32', new Int32Array(6), [2, 3]), /holds a Float32Array/);
  assert.throws(() => new wdnn.Tensor('complex64', [1], [1]), /unknown type/);
  assert.throws(() => new wdnn.Tensor('float32', [1], [-1]), /non-negative/);
});

test('.npy round trip', () => {
  for (const t of [
    new wdnn.Tensor('float32', [1.5, -2, 3], [3]),
    new wdnn.Tensor('int64', [1, -2, 3, 4], [2, 2]),
    new wdnn.Tensor('bool', [true, false], [2]),
    new wdnn.Tensor('uint8', new Uint8Array(0), [0, 3]),
    // float16 as ORT has it: the bits in a Uint16Array (1, -2.5, inf, NaN).
    new wdnn.Tensor('float16', new Uint16Array([0x3c00, 0xc100, 0x7c00, 0x7e00]), [2, 2]),
  ]) {
    const back = parseNpy(formatNpy(t));
    assert.equal(back.type, t.type);
    assert.deepEqual([...back.dims], [...t.dims]);
    assert.deepEqual([...back.data], [...t.data]);
  }
  assert.throws(() => parseNpy(new Uint8Array([1, 2, 3])), /not an .npy file/);
});
