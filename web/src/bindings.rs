//! The `#[wasm_bindgen]` surface that `web/js/index.mjs` wraps. Kept flat and close to [`WebSession`]: plain
//! objects and typed arrays cross the boundary, every check and message lives on the Rust side, except the
//! download's per-chunk checks, which JavaScript makes as bytes arrive with the chunk table [`weights_layout`] reads.
//! Loading and running return promises: WebGPU in a browser answers only asynchronously.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use wdnn_runner_core::LocalFuture;

use crate::files::{Fetch, FetchError, FileSet};
use crate::session::{HostTensor, WebSession};

fn object(fields: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (key, value) in fields {
        // Defining a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(key), value);
    }
    o
}

fn field(o: &JsValue, key: &str, what: &str) -> Result<JsValue, JsError> {
    match Reflect::get(o, &JsValue::from_str(key)) {
        Ok(v) if !v.is_undefined() => Ok(v),
        _ => Err(JsError::new(&format!("{what}: no `{key}`"))),
    }
}

fn signature(sigs: Vec<(String, &'static str, Vec<u64>)>) -> Array {
    sigs.into_iter()
        .map(|(name, dtype, shape)| {
            let shape: Array = shape.iter().map(|&d| JsValue::from_f64(d as f64)).collect();
            JsValue::from(object(&[("name", name.into()), ("type", dtype.into()), ("dims", shape.into())]))
        })
        .collect()
}

/// The files a load with `backends` may read, from the manifest's bytes: the manifest, then each listed backend's
/// graph and weights.
#[wasm_bindgen(js_name = neededFiles)]
pub fn needed_files(manifest: &[u8], backends: Vec<String>) -> Result<Vec<String>, JsError> {
    Ok(crate::files::needed_files(manifest, &backends)?)
}

/// The backends compiled into this module, best first.
#[wasm_bindgen(js_name = compiledBackends)]
pub fn compiled_backends() -> Vec<String> {
    crate::compiled_backends().iter().map(|b| b.name().to_string()).collect()
}

/// The instruction set this module was built for: `relaxed-simd`, `simd128` or `mvp`, with `-threads` for the
/// threaded build (shared memory and atomics; see [`thread_pool_start`]).
#[wasm_bindgen(js_name = buildFlavor)]
pub fn build_flavor() -> String {
    let isa = if cfg!(target_feature = "relaxed-simd") {
        "relaxed-simd"
    } else if cfg!(target_feature = "simd128") {
        "simd128"
    } else {
        "mvp"
    };
    if cfg!(target_feature = "atomics") { format!("{isa}-threads") } else { isa.to_string() }
}

/// Threaded build: lets the wasm backend's kernels use workers `1..=count`, each of which has instantiated this
/// module over the same memory and is entering [`thread_worker_loop`]. Kernels use the caller alone until then.
#[cfg(target_feature = "atomics")]
#[wasm_bindgen(js_name = threadPoolStart)]
pub fn thread_pool_start(count: usize) {
    wdnn_runner_wasm::parallel::start_pool(count);
}

/// Threaded build: a worker's life (it never returns): it sleeps until a kernel asks for it, takes tiles of the
/// kernel, and sleeps again. `index` is the worker's number, from 1.
#[cfg(target_feature = "atomics")]
#[wasm_bindgen(js_name = threadWorkerLoop)]
pub fn thread_worker_loop(index: usize) {
    wdnn_runner_wasm::parallel::worker_loop(index)
}

/// Threaded build: a worker's loop ended in a trap; kernels waiting for it fail instead of waiting forever.
#[cfg(target_feature = "atomics")]
#[wasm_bindgen(js_name = threadWorkerFailed)]
pub fn thread_worker_failed() {
    wdnn_runner_wasm::parallel::worker_failed();
}

/// The module's linear memory (the threaded build imports it, so it is not among the instance's exports).
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// The threads the wasm backend's kernels use: the pool's workers and the caller (1 without the threaded build).
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    wdnn_runner_wasm::parallel::available()
}

/// `{headLength}` once the first 56 bytes of a weights file are in, then (given the whole head)
/// `{bodyOffset, chunks: [{offset, size, sha256}]}`: where each compressed chunk lies in the file and the hex SHA-256
/// it must have, so that a download checks each chunk as soon as its last byte arrives. The head's own checksum,
/// the magic and the version are checked here; `file` names the file in errors.
#[wasm_bindgen(js_name = weightsLayout)]
pub fn weights_layout(prefix: &[u8], file: &str) -> Result<Object, JsError> {
    use wdnn_runner_core::spec::container::{self, FileKind, HEADER_LEN};
    use wdnn_runner_core::spec::weights::WeightIndex;
    let header = container::read_header(FileKind::Weights, prefix, file)?;
    let head_end = (HEADER_LEN as u64).saturating_add(header.head_len);
    if (prefix.len() as u64) < head_end {
        return Ok(object(&[("headLength", JsValue::from_f64(head_end as f64))]));
    }
    let (index, _): (WeightIndex, _) = container::read(FileKind::Weights, &prefix[..head_end as usize], file)?;
    let mut offset = head_end;
    let chunks: Array = index
        .chunks
        .iter()
        .map(|c| {
            let hex: String = c.sha256.iter().map(|b| format!("{b:02x}")).collect();
            let chunk = object(&[
                ("offset", JsValue::from_f64(offset as f64)),
                ("size", JsValue::from_f64(c.compressed_size as f64)),
                ("sha256", hex.into()),
            ]);
            offset = offset.saturating_add(c.compressed_size);
            JsValue::from(chunk)
        })
        .collect();
    Ok(object(&[
        ("headLength", JsValue::from_f64(head_end as f64)),
        ("bodyOffset", JsValue::from_f64(head_end as f64)),
        ("chunks", chunks.into()),
    ]))
}

/// `[{backend, file, kind, size, sha256}]`: every file of the manifest's backends (kind `graph` or `weights`), so
/// that a download knows each file's size (the progress total) and hash before its first byte.
#[wasm_bindgen(js_name = bundleFiles)]
pub fn bundle_files(manifest: &[u8]) -> Result<Array, JsError> {
    use wdnn_runner_core::spec::Manifest;
    use wdnn_runner_core::spec::manifest::MANIFEST_FILE;
    let manifest = Manifest::from_bytes(manifest, MANIFEST_FILE)?;
    let out = Array::new();
    for entry in &manifest.backends {
        for (kind, file) in [("graph", &entry.graph), ("weights", &entry.weights)] {
            out.push(&JsValue::from(object(&[
                ("backend", entry.backend.as_str().into()),
                ("file", file.file.as_str().into()),
                ("kind", kind.into()),
                ("size", JsValue::from_f64(file.size as f64)),
                ("sha256", file.sha256.as_str().into()),
            ])));
        }
    }
    Ok(out)
}

/// The fetch function JavaScript hands to [`Model::load`]: `(names: string[]) => Promise<Uint8Array[]>`. A rejection
/// with an `Error` whose `file` property is set names that file.
struct JsFetch(Function);

fn js_message(e: &JsValue) -> String {
    if let Some(e) = e.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

impl Fetch for JsFetch {
    fn fetch<'a>(&'a self, files: &'a [String]) -> LocalFuture<'a, Result<Vec<Vec<u8>>, FetchError>> {
        Box::pin(async move {
            let fail = |e: JsValue| {
                let file = Reflect::get(&e, &JsValue::from_str("file")).ok().and_then(|f| f.as_string());
                FetchError { file: file.unwrap_or_else(|| files.join(", ")), message: js_message(&e) }
            };
            let names: Array = files.iter().map(|f| JsValue::from_str(f)).collect();
            let promise = self.0.call1(&JsValue::NULL, &names).map_err(fail)?;
            let value = JsFuture::from(Promise::resolve(&promise)).await.map_err(fail)?;
            let list: Array = value.dyn_into().map_err(|_| FetchError {
                file: files.join(", "),
                message: "the fetch function did not resolve to an array".into(),
            })?;
            files
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    list.get(i as u32).dyn_into::<Uint8Array>().map(|b| b.to_vec()).map_err(|_| FetchError {
                        file: name.clone(),
                        message: "the fetch function gave no Uint8Array for it".into(),
                    })
                })
                .collect()
        })
    }
}

/// A loaded model (the wrapper's `InferenceSession` holds one). `dispose()` frees the session (GPU buffers, the
/// weights and arena in linear memory) at once; `free()` releases the handle too.
#[wasm_bindgen]
pub struct Model {
    /// Empty while a run has the session, and after `dispose`.
    slot: Rc<RefCell<Option<WebSession>>>,
    disposed: Rc<RefCell<bool>>,
    backend: String,
    skipped: Array,
    inputs: Array,
    outputs: Array,
}

#[wasm_bindgen]
impl Model {
    /// Loads a bundle on the first of `backends` that works: `manifest` is the manifest's bytes, `fetch(names)`
    /// resolves to the bytes of the files a chosen backend needs (only then are they downloaded), `origin` names the
    /// bundle in messages, and `progress(done, total)`, if given, follows the weight decoding. Resolves to a Model.
    pub fn load(
        manifest: Uint8Array,
        backends: Vec<String>,
        fetch: Function,
        origin: String,
        progress: Option<Function>,
    ) -> Promise {
        future_to_promise(async move {
            let files = [(MANIFEST.to_string(), manifest.to_vec())];
            let set = FileSet::with_fetch(files, Box::new(JsFetch(fetch)), origin);
            let report = |done: u64, total: u64| {
                if let Some(f) = &progress {
                    let _ = f.call2(&JsValue::NULL, &JsValue::from_f64(done as f64), &JsValue::from_f64(total as f64));
                }
            };
            let session = WebSession::load(set, &backends, report).await.map_err(to_js)?;
            let skipped = session
                .skipped()
                .iter()
                .map(|s| {
                    let fields = [("backend", s.backend.as_str().into()), ("reason", s.reason.as_str().into())];
                    JsValue::from(object(&fields))
                })
                .collect();
            let model = Model {
                backend: session.backend().to_string(),
                skipped,
                inputs: signature(session.inputs()),
                outputs: signature(session.outputs()),
                slot: Rc::new(RefCell::new(Some(session))),
                disposed: Rc::new(RefCell::new(false)),
            };
            Ok(model.into())
        })
    }

    /// The backend the model runs on.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// `[{backend, reason}]`: the backends asked for before the chosen one, and why each was passed over.
    #[wasm_bindgen(getter)]
    pub fn skipped(&self) -> Array {
        self.skipped.clone()
    }

    /// `[{name, type, dims}]` of the model's inputs.
    #[wasm_bindgen(getter)]
    pub fn inputs(&self) -> Array {
        self.inputs.clone()
    }

    /// `[{name, type, dims}]` of the model's outputs.
    #[wasm_bindgen(getter)]
    pub fn outputs(&self) -> Array {
        self.outputs.clone()
    }

    /// Runs the model on `[{name, type, dims, bytes}]` (bytes: a Uint8Array over the values) and resolves to the
    /// outputs in the same form, in the model's output order; each output's bytes are a fresh, aligned buffer. One
    /// run at a time: a second run before the first has finished is refused.
    pub fn run(&self, inputs: Array) -> Promise {
        let host = match host_tensors(&inputs) {
            Ok(host) => host,
            Err(e) => return Promise::reject(&JsValue::from(e)),
        };
        let (slot, disposed) = (self.slot.clone(), self.disposed.clone());
        future_to_promise(async move {
            let Some(mut session) = slot.borrow_mut().take() else {
                let why = if *disposed.borrow() { "the session was disposed" } else { "a run is still in progress" };
                return Err(JsError::new(&format!("wdnn: {why}")).into());
            };
            let outputs = session.run(host).await;
            // A dispose during the run frees the session now, instead of putting it back.
            if !*disposed.borrow() {
                *slot.borrow_mut() = Some(session);
            }
            let outputs = outputs.map_err(to_js)?;
            Ok(outputs
                .into_iter()
                .map(|t| {
                    let dims: Array = t.dims.iter().map(|&d| JsValue::from_f64(d)).collect();
                    let bytes = Uint8Array::from(t.bytes.as_slice());
                    JsValue::from(object(&[
                        ("name", t.name.into()),
                        ("type", t.dtype.into()),
                        ("dims", dims.into()),
                        ("bytes", bytes.into()),
                    ]))
                })
                .collect::<Array>()
                .into())
        })
    }

    /// Frees the session now (its GPU buffers and device, its weights and arena); a run in progress finishes first.
    pub fn dispose(&self) {
        *self.disposed.borrow_mut() = true;
        drop(self.slot.borrow_mut().take());
    }
}

const MANIFEST: &str = wdnn_runner_core::spec::manifest::MANIFEST_FILE;

fn to_js(e: crate::WebError) -> JsValue {
    JsError::new(&e.to_string()).into()
}

fn host_tensors(inputs: &Array) -> Result<Vec<HostTensor>, JsError> {
    let mut host = Vec::with_capacity(inputs.length() as usize);
    for input in inputs.iter() {
        let name = field(&input, "name", "an input")?
            .as_string()
            .ok_or_else(|| JsError::new("an input's name is not a string"))?;
        let what = format!("input `{name}`");
        let dtype =
            field(&input, "type", &what)?.as_string().ok_or_else(|| JsError::new(&format!("{what}: bad type")))?;
        let dims: Array = field(&input, "dims", &what)?
            .dyn_into()
            .map_err(|_| JsError::new(&format!("{what}: dims is not an array")))?;
        let dims = dims
            .iter()
            .map(|d| d.as_f64().ok_or_else(|| JsError::new(&format!("{what}: a dim is not a number"))))
            .collect::<Result<Vec<f64>, _>>()?;
        let bytes: Uint8Array = field(&input, "bytes", &what)?
            .dyn_into()
            .map_err(|_| JsError::new(&format!("{what}: bytes is not a Uint8Array")))?;
        host.push(HostTensor { name, dtype, dims, bytes: bytes.to_vec() });
    }
    Ok(host)
}

/// Hex SHA-256 of `bytes`: the download's chunk check where WebCrypto is missing (an insecure context).
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    wdnn_runner_core::spec::sha256_hex(bytes)
}
