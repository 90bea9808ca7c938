// wdnn: run converted wdnn bundles in Node and browsers, with an API in ONNX Runtime Web's habits:
//
//   import * as wdnn from 'wdnn';
//   const session = await wdnn.load('bundle/', { backends: ['wasm', 'fallback'] });
//   const { probabilities } = await session.run({ input: new wdnn.Tensor('float32', data, [1, 3, 224, 224]) });
//   session.dispose();
//
// The work happens in a WebAssembly module (Rust: runner-core, the backends, `web/src`); this file picks the
// module build, reads bundles and converts tensors. `run` is async so that a later version can move the module into
// a worker, and `load` takes options so that WebGPU, streaming downloads and progress can join without a break.

import { Tensor } from './tensor.mjs';
import { isNode, readBundle } from './bundle.mjs';

export { Tensor };

/** The backends tried when `load` is given none, best first; those not compiled in are reported as skipped. */
export const DEFAULT_BACKENDS = Object.freeze(['wasm', 'fallback']);

/** Settings read when the module is first needed (as `ort.env`). */
export const env = {
  wasm: {
    /** `'auto'` (relaxed SIMD where the engine validates it, else SIMD128), `'relaxed-simd'` or `'simd128'`. */
    flavor: 'auto',
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
};

function chooseFlavor() {
  const asked = env.wasm.flavor ?? 'auto';
  if (asked === 'auto') return WebAssembly.validate(RELAXED_SIMD_PROBE) ? 'relaxed-simd' : 'simd128';
  if (!(asked in GLUE)) throw new TypeError(`wdnn: env.wasm.flavor must be auto, ${Object.keys(GLUE).join(' or ')}`);
  return asked;
}

let runtime = null;

/** The initialized module (loaded once per realm): `{ glue, flavor }`. */
async function getRuntime() {
  if (!runtime) {
    runtime = (async () => {
      const flavor = chooseFlavor();
      const glue = await GLUE[flavor]();
      const base = env.wasm.wasmPaths ? new URL(`${flavor}/`, new URL(env.wasm.wasmPaths, import.meta.url))
        : new URL(`./${flavor}/`, import.meta.url);
      const url = new URL('wdnn_web_bg.wasm', base);
      let module_or_path = url;
      if (isNode && url.protocol === 'file:') {
        const { readFile } = await import('node:fs/promises');
        module_or_path = await readFile(url);
      }
      await glue.default({ module_or_path });
      return { glue, flavor };
    })();
    runtime.catch(() => { runtime = null; });
  }
  return runtime;
}

/** The module build in use (`'relaxed-simd'` or `'simd128'`) and the backends compiled into it; loads it if needed. */
export async function info() {
  const { glue, flavor } = await getRuntime();
  return { flavor, built: glue.buildFlavor(), backends: glue.compiledBackends() };
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
    this.skipped = Object.freeze(model.skipped.map((s) => Object.freeze(s)));
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
    for (const o of this.#model.run(inputs)) results[o.name] = Tensor.fromBytes(o.type, o.bytes, o.dims);
    return results;
  }

  /** Frees the model's memory; the session cannot run afterwards. */
  dispose() {
    this.#model?.free();
    this.#model = null;
  }

  /** As ORT's `release`. */
  async release() {
    this.dispose();
  }
}

/**
 * Loads a bundle on the first backend in `options.backends` that works.
 * @param bundle a directory path (Node), a URL of the bundle directory, or a Map / object of file names to bytes
 * @param {{backends?: string[], onProgress?: (done: number, total: number) => void}} [options]
 */
export async function load(bundle, options = {}) {
  const backends = [...(options.backends ?? DEFAULT_BACKENDS)].map(String);
  const { glue } = await getRuntime();
  const files = await readBundle(bundle, backends, (manifest, b) => glue.neededFiles(manifest, b));
  const model = glue.Model.load([...files.keys()], [...files.values()], backends, options.onProgress);
  return new InferenceSession(model);
}
