// One thread of the threaded module's pool (index.mjs starts `numThreads - 1` of them): a Web Worker in browsers, a
// worker_threads Worker in Node. It gets one message {glueUrl, module, memory, index}, instantiates the compiled
// module over the page's shared memory (wasm-bindgen gives this thread its own stack and thread-local storage),
// answers {ready: true} (or {error}), and then runs the Rust side's worker loop, which sleeps in
// memory.atomic.wait32 between kernels and never returns.

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

async function start({ glueUrl, module, memory, index }, reply) {
  let glue;
  try {
    glue = await import(glueUrl);
    await glue.default({ module_or_path: module, memory });
  } catch (e) {
    reply({ error: String(e?.stack ?? e) });
    return;
  }
  reply({ ready: true });
  try {
    glue.threadWorkerLoop(index);
  } catch (e) {
    // A trap (a panic aborts this thread): the kernel this worker was part of cannot finish; the caller fails it.
    console.error(`wdnn: thread worker ${index}:`, e);
    glue.threadWorkerFailed();
  }
}

if (isNode) {
  const { parentPort } = await import('node:worker_threads');
  parentPort.once('message', (message) => start(message, (m) => parentPort.postMessage(m)));
} else {
  self.addEventListener('message', (e) => start(e.data, (m) => self.postMessage(m)), { once: true });
}
