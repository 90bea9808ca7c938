// The page side of `wdnn.load(bundle, { worker: true })`: a session whose module runs in a Web Worker (worker.mjs),
// with the same surface as InferenceSession. Input tensors' buffers are transferred to the worker (they are detached
// afterwards), outputs are transferred back; nothing else crosses.

import { Tensor } from './tensor.mjs';
import { env } from './index.mjs';

function connect() {
  if (typeof Worker === 'undefined') throw new Error('wdnn.load: `worker: true` needs Web Workers (a browser)');
  const worker = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
  const pending = new Map();
  let next = 1;
  worker.onmessage = ({ data }) => {
    const call = pending.get(data.id);
    if (!call) return;
    if (data.progress) return call.onProgress?.(...data.progress);
    pending.delete(data.id);
    if (data.ok) call.resolve(data);
    else call.reject(Object.assign(new Error(data.error), data.file ? { file: data.file } : {}));
  };
  worker.onerror = (e) => {
    const error = new Error(`wdnn worker failed: ${e.message ?? 'could not start (is worker.mjs served beside index.mjs?)'}`);
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  const request = (message, transfer = [], onProgress) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject, onProgress });
    worker.postMessage({ id, ...message }, transfer);
  });
  return { worker, request };
}

const freeze = (list) => Object.freeze(list.map((o) => Object.freeze({ ...o })));

/** A model loaded on one backend inside a Web Worker. */
export class WorkerSession {
  #link;

  /** @internal use `wdnn.load(bundle, { worker: true })` */
  constructor(link, answer) {
    this.#link = link;
    this.backend = answer.backend;
    this.skipped = freeze(answer.skipped);
    this.inputs = freeze(answer.inputs.map((i) => ({ ...i, dims: Object.freeze([...i.dims]) })));
    this.outputs = freeze(answer.outputs.map((o) => ({ ...o, dims: Object.freeze([...o.dims]) })));
    this.inputNames = Object.freeze(this.inputs.map((i) => i.name));
    this.outputNames = Object.freeze(this.outputs.map((o) => o.name));
    this.worker = true;
  }

  /** Runs the model in the worker; the inputs' buffers are transferred (detached here). */
  async run(feeds) {
    if (!this.#link) throw new Error('wdnn: the session was disposed');
    if (!feeds || typeof feeds !== 'object') throw new TypeError('wdnn: run takes an object of input tensors by name');
    const list = Object.entries(feeds).map(([name, t]) => {
      if (!(t instanceof Tensor)) throw new TypeError(`wdnn: input \`${name}\` is not a wdnn.Tensor`);
      return { name, type: t.type, dims: [...t.dims], data: t.data };
    });
    const transfer = [...new Set(list.map((f) => f.data.buffer))];
    const { outputs } = await this.#link.request({ op: 'run', feeds: list }, transfer);
    const results = {};
    for (const o of outputs) results[o.name] = new Tensor(o.type, o.data, o.dims);
    return results;
  }

  /** Frees the session and ends the worker (its whole memory goes with it). */
  dispose() {
    if (!this.#link) return;
    this.#link.worker.terminate();
    this.#link = null;
  }

  /** As ORT's `release`. */
  async release() {
    this.dispose();
  }
}

/** `wdnn.load` in a worker: a URL bundle is resolved against the page first; a file map is copied over. */
export async function loadInWorker(bundle, options) {
  const link = connect();
  const { onProgress, worker: _, ...rest } = options;
  const where = typeof bundle === 'string' || bundle instanceof URL
    ? new URL(bundle.toString(), globalThis.location?.href).href
    : bundle;
  try {
    const wasm = { flavor: env.wasm.flavor, numThreads: env.wasm.numThreads, wasmPaths: env.wasm.wasmPaths?.toString() };
    const answer = await link.request({ op: 'load', bundle: where, options: rest, wasm, progress: Boolean(onProgress) },
      [], onProgress);
    return new WorkerSession(link, answer);
  } catch (e) {
    link.worker.terminate();
    throw e;
  }
}
