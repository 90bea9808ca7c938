// wdnn: run converted wdnn bundles in Node and browsers, with an API in ONNX Runtime Web's habits:
//
//   import * as wdnn from 'wdnn';
//   const session = await wdnn.load('models/mobilenetv2/', { onProgress: (done, total) => {}, cache: true });
//   const { probabilities } = await session.run({ input: new wdnn.Tensor('float32', data, [1, 3, 224, 224]) });
//   session.dispose();
//
// The work happens in a WebAssembly module (Rust: runner-core, the backends, `web/src`); this file picks the
// module build, reads bundles (bundle.mjs: streaming, per-chunk checks, the Cache API) and converts tensors.
// `{ worker: true }` runs the same in a Web Worker (worker.mjs) and only tensors cross to this thread.

import { TYPED_ARRAYS, Tensor } from './tensor.mjs';
import { BundleFileError, CACHE_NAME, isNode, openBundle } from './bundle.mjs';

export { Tensor, BundleFileError, CACHE_NAME };

/** The backends tried when `load` is given none, best first (runner-core's order); those not compiled in or not
 * available here are reported in `session.skipped` with the reason. */
export const DEFAULT_BACKENDS = Object.freeze(['webgpu', 'wasm', 'fallback']);

/** Settings read when the module is first needed (as `ort.env`). */
export const env = {
  wasm: {
    /** `'auto'` (relaxed SIMD where the engine validates it, else SIMD128), `'relaxed-simd'` or `'simd128'`; with
     * more than one thread the module is the threaded SIMD128 build (`'simd128-threads'`). */
    flavor: 'auto',
    /** Threads for the wasm backend's kernels, as ORT's `env.wasm.numThreads`: 0 (the default) picks
     * min(4, cores/2) on a cross-origin isolated page and 1 elsewhere (a page without COOP/COEP cannot share
     * memory; in Node ask for threads explicitly). More than one uses the threaded module and `numThreads - 1`
     * workers (Web Workers, or worker_threads in Node). */
    numThreads: 0,
    /** Where the module builds live (a URL or, in Node, a directory ending in `/`); default: beside this file. */
    wasmPaths: undefined,
  },
};

// A module using one relaxed-SIMD instruction (i8x16.relaxed_swizzle): engines without relaxed SIMD refuse it.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15,
  253, 128, 2, 11,
]);

// Static imports per build keep the package bundler-friendly.
const GLUE = {
  'simd128': () => import('./simd128/wdnn_web.js'),
  'relaxed-simd': () => import('./relaxed-simd/wdnn_web.js'),
  'simd128-threads': () => import('./simd128-threads/wdnn_web.js'),
};

/** The threads asked for (`env.wasm.numThreads`, 0 resolved), and whether this realm can share memory. */
function threadsWanted() {
  const asked = env.wasm.numThreads ?? 0;
  if (!Number.isInteger(asked) || asked < 0) throw new TypeError('wdnn: env.wasm.numThreads must be an integer >= 0');
  const isolated = isNode || globalThis.crossOriginIsolated === true;
  if (!isolated || typeof SharedArrayBuffer === 'undefined') return 1;
  if (asked > 0) return asked;
  if (isNode) return 1;
  return Math.max(1, Math.min(4, Math.ceil((globalThis.navigator?.hardwareConcurrency ?? 1) / 2)));
}

function chooseFlavor(threads) {
  const asked = env.wasm.flavor ?? 'auto';
  if (asked === 'auto') {
    if (threads > 1) return 'simd128-threads';
    return WebAssembly.validate(RELAXED_SIMD_PROBE) ? 'relaxed-simd' : 'simd128';
  }
  if (!(asked in GLUE)) throw new TypeError(`wdnn: env.wasm.flavor must be auto, ${Object.keys(GLUE).join(' or ')}`);
  return asked;
}

/** Compiles the module of `url` (a file: URL is read in Node). */
async function compileModule(url) {
  if (isNode && url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  const response = fetch(url);
  if (WebAssembly.compileStreaming) {
    try {
      return await WebAssembly.compileStreaming(response);
    } catch (e) {
      // A server that does not say application/wasm: compile the bytes.
      if (!(e instanceof TypeError)) throw e;
    }
  }
  return WebAssembly.compile(await (await response).arrayBuffer());
}

/** Starts `count` workers (thread-worker.mjs) over the threaded module's memory and waits until each is in its
 * loop; they live as long as the realm (unref'd in Node, so they do not keep the process alive). */
async function startThreads(glue, glueUrl, module, memory, count) {
  const url = new URL('./thread-worker.mjs', import.meta.url);
  const started = [];
  for (let index = 1; index <= count; index++) {
    started.push(new Promise((resolve, reject) => {
      const message = { glueUrl: glueUrl.href, module, memory, index };
      const fail = (e) => reject(new Error(`wdnn: thread worker ${index} failed: ${e?.message ?? e}`));
      if (isNode) {
        import('node:worker_threads').then(({ Worker }) => {
          const worker = new Worker(url);
          worker.once('message', (m) => {
            // Ready: from now on the worker only sleeps and computes; it must not keep the process alive.
            worker.unref();
            if (m?.ready) resolve();
            else fail(m?.error);
          });
          worker.once('error', fail);
          worker.postMessage(message);
        }, fail);
      } else {
        const worker = new Worker(url, { type: 'module', name: `wdnn-thread-${index}` });
        worker.addEventListener('message', (e) => (e.data?.ready ? resolve() : fail(e.data?.error)), { once: true });
        worker.addEventListener('error', (e) => fail(e.message ?? e), { once: true });
        worker.postMessage(message);
      }
    }));
  }
  await Promise.all(started);
  glue.threadPoolStart(count);
}

let runtime = null;

/** The initialized module (loaded once per realm): `{ glue, flavor }`. */
async function getRuntime() {
  if (!runtime) {
    runtime = (async () => {
      const threads = threadsWanted();
      let flavor = chooseFlavor(threads);
      let glue;
      try {
        glue = await GLUE[flavor]();
      } catch (e) {
        // A package built without the relaxed-SIMD or the threaded module (`cargo xtask web --no-relaxed`,
        // `--no-threads`, or no rust-src) still runs on SIMD128.
        if (flavor === 'simd128' || (env.wasm.flavor ?? 'auto') !== 'auto') throw e;
        flavor = 'simd128';
        glue = await GLUE[flavor]();
      }
      const folder = (name) => env.wasm.wasmPaths ? new URL(`${name}/`, new URL(env.wasm.wasmPaths, import.meta.url))
        : new URL(`./${name}/`, import.meta.url);
      const url = new URL('wdnn_web_bg.wasm', folder(flavor));
      const module = await compileModule(url);
      const exports = await glue.default({ module_or_path: module });
      // wasm-bindgen's glue exports the memory of every build; `wasmMemory()` is the same object asked from Rust.
      const memory = exports.memory ?? glue.wasmMemory();
      if (flavor.endsWith('-threads') && threads > 1) {
        await startThreads(glue, new URL('wdnn_web.js', new URL(`./${flavor}/`, import.meta.url)), module, memory,
          threads - 1);
      }
      return { glue, flavor, memory };
    })();
    runtime.catch(() => { runtime = null; });
  }
  return runtime;
}

/** The module build in use (`'relaxed-simd'`, `'simd128'` or `'simd128-threads'`), the backends compiled into it,
 * the threads the wasm backend's kernels use and the size of its linear memory in bytes (it grows, never shrinks;
 * freed memory is reused); loads the module if needed. */
export async function info() {
  const { glue, flavor, memory } = await getRuntime();
  return {
    flavor, built: glue.buildFlavor(), backends: glue.compiledBackends(), threads: glue.threadCount(),
    memoryBytes: memory.buffer.byteLength,
  };
}

function signature(list) {
  return Object.freeze(list.map(({ name, type, dims }) => Object.freeze({ name, type, dims: Object.freeze(dims) })));
}

/** A model loaded on one backend. */
export class InferenceSession {
  #model;

  /** @internal use `wdnn.load` */
  constructor(model) {
    this.#model = model;
    /** The backend the model runs on. */
    this.backend = model.backend;
    /** `[{backend, reason}]`: the backends asked for before it, and why each was passed over. */
    this.skipped = Object.freeze(model.skipped.map((s) => Object.freeze({ backend: s.backend, reason: s.reason })));
    /** `[{name, type, dims}]` */
    this.inputs = signature(model.inputs);
    /** `[{name, type, dims}]` */
    this.outputs = signature(model.outputs);
    this.inputNames = Object.freeze(this.inputs.map((i) => i.name));
    this.outputNames = Object.freeze(this.outputs.map((o) => o.name));
  }

  /** As ORT's `InferenceSession.create`. */
  static create(bundle, options) {
    return load(bundle, options);
  }

  /**
   * Runs the model.
   * @param {Record<string, Tensor>} feeds every input by name
   * @returns {Promise<Record<string, Tensor>>} every output by name
   */
  async run(feeds) {
    if (!this.#model) throw new Error('wdnn: the session was disposed');
    if (!feeds || typeof feeds !== 'object') throw new TypeError('wdnn: run takes an object of input tensors by name');
    const inputs = Object.entries(feeds).map(([name, t]) => {
      if (!(t instanceof Tensor)) throw new TypeError(`wdnn: input \`${name}\` is not a wdnn.Tensor`);
      return { name, type: t.type, dims: [...t.dims], bytes: t.bytes() };
    });
    const results = {};
    for (const o of await this.#model.run(inputs)) results[o.name] = Tensor.fromBytes(o.type, o.bytes, o.dims);
    return results;
  }

  /** Frees the model now: its GPU buffers and device, its weights and working memory. It cannot run afterwards. */
  dispose() {
    if (!this.#model) return;
    this.#model.dispose();
    this.#model.free();
    this.#model = null;
  }

  /** As ORT's `release`. */
  async release() {
    this.dispose();
  }
}

/**
 * Loads a bundle on the first backend in `options.backends` that works. The manifest is read first; then only the
 * chosen backend's files are read (downloaded, from a URL), each weights chunk checked as it arrives.
 * @param bundle a URL of the bundle directory (relative to the page in a browser), a directory path (Node), or a
 *   Map / object of file names to bytes (Uint8Array, ArrayBuffer or another typed array)
 * @param {{backends?: string[], onProgress?: (done: number, total: number) => void, cache?: boolean,
 *   worker?: boolean}} [options] `onProgress` follows the bytes downloaded (a URL) or the weights decoded;
 *   `cache` keeps downloaded files in the Cache API, checked against the manifest's hashes; `worker` runs the
 *   session in a Web Worker
 */
export async function load(bundle, options = {}) {
  if (options.worker) {
    const { loadInWorker } = await import('./worker-client.mjs');
    return loadInWorker(bundle, options);
  }
  const backends = [...(options.backends ?? DEFAULT_BACKENDS)].map(String);
  const { glue } = await getRuntime();
  const source = await openBundle(bundle, options, glue);
  const manifest = await source.manifest();
  const model = await glue.Model.load(manifest, backends, source.fetch, source.origin, source.decodeProgress ?? undefined);
  const session = new InferenceSession(model);
  if (session.backend === 'wasm') await warmUp(session);
  return session;
}

/**
 * Runs a wasm session once on zeros, through the path every run takes (this wrapper, the bindings, runner-core's
 * session, the kernels), so that the first real run is as fast as the ones after it. The backend's load has already
 * run each kernel once (runner-wasm's `warm_up`); what it cannot reach is compiled here: WebAssembly engines
 * compile each function at its first call and optimize it only once it is hot (in Node 20 the first run otherwise
 * took 1.15-1.25x a steady one on MobileNetV2 and SqueezeNet). It costs one run. A model that refuses zeros (an
 * index out of range) stays partly cold: its error is not the caller's, the real run reports its own.
 */
async function warmUp(session) {
  const zeros = {};
  for (const { name, type, dims } of session.inputs) {
    zeros[name] = new Tensor(type, new TYPED_ARRAYS[type](dims.reduce((a, b) => a * b, 1)), dims);
  }
  await session.run(zeros).catch(() => {});
}
