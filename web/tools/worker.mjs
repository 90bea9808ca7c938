// A long-lived Node process that loads bundles and runs them through the wdnn package, for the Rust side's tests
// and the conformance gate (`cargo xtask conformance --backend wasm`): one process serves many cases, so Node's and
// the module's start-up are paid once.
//
//   node worker.mjs PACKAGE_DIR
//
// WDNN_FLAVOR (auto, simd128, relaxed-simd or simd128-threads; default auto) picks the module build, as
// `wdnn.env.wasm.flavor`; WDNN_THREADS sets `wdnn.env.wasm.numThreads` (default 0: one thread in Node).
//
// One JSON request per stdin line, one JSON reply per stdout line, in order:
//   {"op":"info"}                                → {"ok":true,"flavor","built","backends"} (compiled in)
//   {"op":"load","bundle":DIR,"backends":[...]}  → {"ok":true,"backend","skipped","inputs","outputs","flavor",
//                                                   "threads"}
//   {"op":"run","inputs":[{"name","file"}],"out_dir":DIR}
//                                                → {"ok":true,"outputs":[{"name","file"}]} (.npy files in out_dir)
//   any failure                                  → {"ok":false,"error":MESSAGE}
// A load replaces (and disposes) the previous session.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const packageDir = process.argv[2];
if (!packageDir) {
  console.error('usage: node worker.mjs PACKAGE_DIR');
  process.exit(2);
}
const wdnn = await import(pathToFileURL(join(resolve(packageDir), 'index.mjs')).href);
const { parseNpy, formatNpy } = await import(pathToFileURL(join(resolve(packageDir), 'npy.mjs')).href);
wdnn.env.wasm.flavor = process.env.WDNN_FLAVOR || 'auto';
wdnn.env.wasm.numThreads = Number(process.env.WDNN_THREADS || 0);

let session = null;

async function handle(request) {
  switch (request.op) {
    case 'info':
      return await wdnn.info();
    case 'load': {
      session?.dispose();
      session = null;
      session = await wdnn.load(request.bundle, { backends: request.backends });
      const { flavor, threads } = await wdnn.info();
      return {
        backend: session.backend, skipped: session.skipped, inputs: session.inputs, outputs: session.outputs, flavor,
        threads,
      };
    }
    case 'run': {
      if (!session) throw new Error('no model loaded');
      const feeds = {};
      for (const { name, file } of request.inputs) feeds[name] = parseNpy(new Uint8Array(await readFile(file)), file);
      const outputs = await session.run(feeds);
      await mkdir(request.out_dir, { recursive: true });
      const written = [];
      let i = 0;
      for (const [name, tensor] of Object.entries(outputs)) {
        const file = join(request.out_dir, `output_${i++}.npy`);
        await writeFile(file, formatNpy(tensor));
        written.push({ name, file });
      }
      return { outputs: written };
    }
    default:
      throw new Error(`unknown op \`${request.op}\``);
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let reply;
  try {
    reply = { ok: true, ...(await handle(JSON.parse(line))) };
  } catch (e) {
    reply = { ok: false, error: String(e?.message ?? e) };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
