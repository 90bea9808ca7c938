// One benchmark measurement in a fresh page (cargo xtask bench-browser opens it once per engine and backend, in a new
// browser profile each time, so nothing is cached): cold start from the page's navigation start to the first result
// (module download and compile, bundle download, load, first run), then the median of `runs` steady runs.
// Both engines run MobileNetV2 on chelsea.png's committed input; the top-1 class is checked.

const params = new URLSearchParams(location.search);
const engine = params.get('engine') ?? 'wdnn';
const runs = Number(params.get('runs') ?? 10);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function npy(url) {
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const headerLength = bytes[8] | (bytes[9] << 8);
  return new Float32Array(bytes.slice(10 + headerLength).buffer);
}

async function wdnnEngine() {
  const wdnn = await import('/wdnn/index.mjs');
  const backend = params.get('backend') ?? 'webgpu';
  const session = await wdnn.load('/models/mobilenetv2/', { backends: [backend] });
  const input = await npy('/fixtures/expected/mobilenetv2/chelsea.input.npy');
  const name = session.inputNames[0];
  return {
    label: `wdnn ${session.backend}`,
    run: async () => (await session.run({ [name]: new wdnn.Tensor('float32', input.slice(), [1, 3, 224, 224]) }))[session.outputNames[0]].data,
  };
}

async function ortEngine() {
  const ep = params.get('ep') ?? 'wasm';
  const ort = await import(ep === 'webgpu' ? '/ort/ort.webgpu.min.mjs' : '/ort/ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = Number(params.get('threads') ?? 1);
  const session = await ort.InferenceSession.create('/onnx/mobilenetv2-imagenet.onnx', { executionProviders: [ep] });
  const input = await npy('/fixtures/expected/mobilenetv2/chelsea.input.npy');
  const name = session.inputNames[0];
  return {
    label: `onnxruntime-web ${ep}`,
    run: async () => (await session.run({ [name]: new ort.Tensor('float32', input.slice(), [1, 3, 224, 224]) }))[session.outputNames[0]].data,
  };
}

async function measure() {
  const e = engine === 'ort' ? await ortEngine() : await wdnnEngine();
  const loadedMs = performance.now();
  const first = await e.run();
  const coldMs = performance.now();
  const top1 = first.reduce((best, v, i) => (v > first[best] ? i : best), 0);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await e.run();
    times.push(performance.now() - t);
  }
  return { engine: e.label, top1, loadedMs, coldMs, firstRunMs: coldMs - loadedMs, steadyMs: median(times), runs };
}

window.result = measure().then(
  (r) => {
    document.getElementById('out').textContent = JSON.stringify(r, null, 2);
    return r;
  },
  (e) => ({ error: String(e?.message ?? e) }),
);
