//! The `#[wasm_bindgen]` surface that `web/js/index.mjs` wraps. Kept flat and close to [`WebSession`]: plain
//! objects and typed arrays cross the boundary, every check and message lives on the Rust side.

use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::files::FileSet;
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

/// The instruction set this module was built for: `relaxed-simd`, `simd128` or `mvp`.
#[wasm_bindgen(js_name = buildFlavor)]
pub fn build_flavor() -> String {
    if cfg!(target_feature = "relaxed-simd") {
        "relaxed-simd"
    } else if cfg!(target_feature = "simd128") {
        "simd128"
    } else {
        "mvp"
    }
    .to_string()
}

/// A loaded model (the wrapper's `InferenceSession` holds one). `free()` releases it.
#[wasm_bindgen]
pub struct Model {
    inner: WebSession,
}

#[wasm_bindgen]
impl Model {
    /// Loads the bundle given as parallel arrays of file names and bytes on the first of `backends` that works.
    /// `progress(done, total)`, if given, is called while the weights are decoded.
    pub fn load(
        names: Vec<String>,
        files: Array,
        backends: Vec<String>,
        progress: Option<Function>,
    ) -> Result<Model, JsError> {
        if names.len() != files.length() as usize {
            return Err(JsError::new("wdnn.load: as many file names as files are needed"));
        }
        let mut set = Vec::with_capacity(names.len());
        for (name, bytes) in names.into_iter().zip(files.iter()) {
            let bytes = bytes
                .dyn_into::<Uint8Array>()
                .map_err(|_| JsError::new(&format!("wdnn.load: file `{name}` is not a Uint8Array")))?;
            set.push((name, bytes.to_vec()));
        }
        let report = |done: u64, total: u64| {
            if let Some(f) = &progress {
                let _ = f.call2(&JsValue::NULL, &JsValue::from_f64(done as f64), &JsValue::from_f64(total as f64));
            }
        };
        Ok(Model { inner: WebSession::load(FileSet::new(set), &backends, report)? })
    }

    /// The backend the model runs on.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend().to_string()
    }

    /// `[{backend, reason}]`: the backends asked for before the chosen one, and why each was passed over.
    #[wasm_bindgen(getter)]
    pub fn skipped(&self) -> Array {
        self.inner
            .skipped()
            .iter()
            .map(|s| {
                JsValue::from(object(&[("backend", s.backend.as_str().into()), ("reason", s.reason.as_str().into())]))
            })
            .collect()
    }

    /// `[{name, type, dims}]` of the model's inputs.
    #[wasm_bindgen(getter)]
    pub fn inputs(&self) -> Array {
        signature(self.inner.inputs())
    }

    /// `[{name, type, dims}]` of the model's outputs.
    #[wasm_bindgen(getter)]
    pub fn outputs(&self) -> Array {
        signature(self.inner.outputs())
    }

    /// Runs the model on `[{name, type, dims, bytes}]` (bytes: a Uint8Array over the values) and returns the outputs
    /// in the same form, in the model's output order; each output's bytes are a fresh, aligned buffer.
    pub fn run(&mut self, inputs: Array) -> Result<Array, JsError> {
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
        let outputs = self.inner.run(host)?;
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
            .collect())
    }
}
