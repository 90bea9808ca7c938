// The Web Worker side of `wdnn.load(bundle, { worker: true })`: the module, the bundle's download and the session
// live here, off the page's main thread; worker-client.mjs is the page side. Messages, each with the caller's `id`:
//   {op:'load', bundle, options}  → {progress:[done,total]}* then {ok, backend, skipped, inputs, outputs}
//   {op:'run', feeds:[{name,type,dims,data}]}  → {ok, outputs:[{name,type,dims,data}]} (output buffers transferred)
//   {op:'dispose'}  → {ok}
//   a failure  → {ok:false, error, file}

import * as wdnn from './index.mjs';

let session = null;

async function handle(message) {
  const { id, op } = message;
  if (op === 'load') {
    Object.assign(wdnn.env.wasm, message.wasm ?? {});
    const onProgress = message.progress ? (done, total) => self.postMessage({ id, progress: [done, total] }) : undefined;
    session = await wdnn.load(message.bundle, { ...message.options, worker: false, onProgress });
    const { backend, skipped, inputs, outputs } = session;
    self.postMessage({ id, ok: true, backend, skipped, inputs, outputs });
  } else if (op === 'run') {
    if (!session) throw new Error('wdnn: the session was disposed');
    const feeds = Object.fromEntries(message.feeds.map((f) => [f.name, new wdnn.Tensor(f.type, f.data, f.dims)]));
    const results = await session.run(feeds);
    const outputs = Object.entries(results).map(([name, t]) => ({ name, type: t.type, dims: [...t.dims], data: t.data }));
    self.postMessage({ id, ok: true, outputs }, outputs.map((o) => o.data.buffer));
  } else if (op === 'dispose') {
    session?.dispose();
    session = null;
    self.postMessage({ id, ok: true });
  } else {
    throw new Error(`wdnn worker: unknown request \`${op}\``);
  }
}

// One request at a time, in order (a run waits for the load before it).
let queue = Promise.resolve();
self.onmessage = ({ data }) => {
  queue = queue.then(() => handle(data)).catch((e) => {
    self.postMessage({ id: data.id, ok: false, error: String(e?.message ?? e), file: e?.file });
  });
};
