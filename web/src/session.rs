//! Loading a bundle on the first backend of an ordered list that works, and running it on tensors that arrived
//! from JavaScript as (name, ORT dtype name, dims, bytes).
//!
//! Selection is runner-core's [`load_async`] (a browser cannot block on a GPU adapter): this module only adds the
//! backends that were asked for but are not compiled into the package, reported in [`WebSession::skipped`] at their
//! place in the requested order, with the reason. The bundle's [`FileSet`] fetches a backend's files only once its
//! probe has passed.

use wdnn_runner_core::{Backend, Bundle, RunnerError, Session, Skip, SkipKind, Tensor, load_async};

use crate::dtype::{from_ort_name, known_names, ort_name};
use crate::files::FileSet;

/// The backends compiled into this package, best first: WebGPU in the wasm32 build (the browser's GPU; in Node it
/// reports no adapter), then the CPU backends.
pub fn compiled_backends() -> Vec<Box<dyn Backend>> {
    let cpu: [Box<dyn Backend>; 2] =
        [Box::new(wdnn_runner_wasm::backend::WasmBackend), Box::new(wdnn_runner_fallback::FallbackBackend)];
    gpu_backend().into_iter().chain(cpu).collect()
}

/// WebGPU through the browser's GPU (wgpu's WebGPU backend): only the wasm32 build has it.
#[cfg(target_arch = "wasm32")]
fn gpu_backend() -> Option<Box<dyn Backend>> {
    Some(Box::new(crate::gpu::BrowserWebGpu(wdnn_runner_webgpu::WebGpuBackend::new(Default::default()))))
}

/// Native builds of this crate (its tests) leave WebGPU to xtask, which links runner-webgpu itself.
#[cfg(not(target_arch = "wasm32"))]
fn gpu_backend() -> Option<Box<dyn Backend>> {
    None
}

/// What can go wrong in the package, beyond runner-core's own errors.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Loading or running failed in runner-core or a backend.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// No backend could load the model (each one's reason, in the order asked).
    #[error("no backend could load the model: {}", describe(.0))]
    NoBackend(Vec<Skip>),
    /// The backend list was empty.
    #[error("no backend was asked for (compiled into this package: {0})")]
    NoBackendAsked(String),
    /// An input tensor's type name is not one of ORT's.
    #[error("input `{name}`: unknown tensor type `{dtype}` (known: {known})")]
    UnknownDType {
        /// The input.
        name: String,
        /// The type name given.
        dtype: String,
        /// The accepted names.
        known: String,
    },
    /// An input tensor's dims are not non-negative integers.
    #[error("input `{name}`: dims must be non-negative integers, got {dims:?}")]
    BadDims {
        /// The input.
        name: String,
        /// The dims given.
        dims: Vec<f64>,
    },
}

fn describe(skips: &[Skip]) -> String {
    skips.iter().map(|s| format!("{}: {}", s.backend, s.reason)).collect::<Vec<_>>().join("; ")
}

/// A tensor as JavaScript hands it over: the typed array's bytes, with its ORT type name and dims.
#[derive(Debug, Clone)]
pub struct HostTensor {
    /// The model input (or output) name.
    pub name: String,
    /// ORT's type name (`float32`, `int64`, …).
    pub dtype: String,
    /// The dims, as JavaScript numbers.
    pub dims: Vec<f64>,
    /// The values' little-endian bytes.
    pub bytes: Vec<u8>,
}

/// A model loaded on one backend.
pub struct WebSession {
    session: Session,
    skipped: Vec<Skip>,
}

impl WebSession {
    /// Opens the bundle in `files` and loads it on the first of `backends` that is compiled in, has a descriptor in
    /// the bundle, is available here and accepts the model. `progress(done, total)` follows the weight decoding.
    pub async fn load(
        files: FileSet,
        backends: &[String],
        progress: impl FnMut(u64, u64),
    ) -> Result<WebSession, WebError> {
        let compiled = compiled_backends();
        let compiled_names = || compiled.iter().map(|b| b.name().to_string()).collect::<Vec<_>>().join(", ");
        if backends.is_empty() {
            return Err(WebError::NoBackendAsked(compiled_names()));
        }
        let order: Vec<&dyn Backend> =
            backends.iter().filter_map(|name| compiled.iter().find(|b| b.name() == name)).map(|b| b.as_ref()).collect();
        let not_compiled = |name: &str| Skip {
            backend: name.to_string(),
            kind: SkipKind::NotCompiled,
            reason: format!("not compiled into this package (it has: {})", compiled_names()),
        };
        // Runner-core's reasons for the compiled backends, merged with ours in the order asked.
        let in_order = |tried: &[Skip], upto: Option<&str>| -> Vec<Skip> {
            let mut all = Vec::new();
            for name in backends {
                if Some(name.as_str()) == upto {
                    break;
                }
                match tried.iter().find(|s| &s.backend == name) {
                    Some(skip) => all.push(skip.clone()),
                    None if !compiled.iter().any(|b| b.name() == name) => all.push(not_compiled(name)),
                    None => {}
                }
            }
            all
        };
        if order.is_empty() {
            return Err(WebError::NoBackend(in_order(&[], None)));
        }
        let bundle = Bundle::from_source(Box::new(files))?;
        match load_async(&bundle, &order, progress).await {
            Ok(session) => {
                let skipped = in_order(session.skipped(), Some(session.backend()));
                Ok(WebSession { session, skipped })
            }
            Err(RunnerError::NoBackend { attempts }) => Err(WebError::NoBackend(in_order(&attempts, None))),
            Err(e) => Err(e.into()),
        }
    }

    /// The backend the model runs on.
    pub fn backend(&self) -> &str {
        self.session.backend()
    }

    /// The backends asked for before the chosen one, and why each was passed over.
    pub fn skipped(&self) -> &[Skip] {
        &self.skipped
    }

    /// The model's inputs: (name, ORT type name, shape).
    pub fn inputs(&self) -> Vec<(String, &'static str, Vec<u64>)> {
        signature(self.session.inputs())
    }

    /// The model's outputs: (name, ORT type name, shape).
    pub fn outputs(&self) -> Vec<(String, &'static str, Vec<u64>)> {
        signature(self.session.outputs())
    }

    /// Runs the model. Names, dtypes and shapes are checked by runner-core's session; the outputs come back in the
    /// model's output order.
    pub async fn run(&mut self, inputs: Vec<HostTensor>) -> Result<Vec<HostTensor>, WebError> {
        let mut names = Vec::with_capacity(inputs.len());
        let mut tensors = Vec::with_capacity(inputs.len());
        for input in inputs {
            let dtype = from_ort_name(&input.dtype).ok_or_else(|| WebError::UnknownDType {
                name: input.name.clone(),
                dtype: input.dtype.clone(),
                known: known_names(),
            })?;
            let shape = dims(&input.name, &input.dims)?;
            tensors.push(Tensor::from_bytes(dtype, &shape, input.bytes)?);
            names.push(input.name);
        }
        let named: Vec<(&str, Tensor)> = names.iter().map(String::as_str).zip(tensors).collect();
        let outputs = self.session.run_async(&named).await;
        Ok(outputs?
            .into_iter()
            .map(|(name, t)| HostTensor {
                name,
                dtype: ort_name(t.dtype()).to_string(),
                dims: t.shape().iter().map(|&d| d as f64).collect(),
                bytes: t.into_bytes(),
            })
            .collect())
    }
}

fn signature(sigs: &[wdnn_runner_core::spec::TensorSignature]) -> Vec<(String, &'static str, Vec<u64>)> {
    sigs.iter().map(|s| (s.name.clone(), ort_name(s.dtype), s.shape.clone())).collect()
}

/// JavaScript numbers as dims: each a non-negative integer that a double holds exactly.
fn dims(name: &str, dims: &[f64]) -> Result<Vec<u64>, WebError> {
    const MAX_EXACT: f64 = 9_007_199_254_740_991.0; // 2^53 - 1
    if dims.iter().any(|&d| !(d.fract() == 0.0 && (0.0..=MAX_EXACT).contains(&d))) {
        return Err(WebError::BadDims { name: name.to_string(), dims: dims.to_vec() });
    }
    Ok(dims.iter().map(|&d| d as u64).collect())
}

/// Polls `future` to completion on this thread; the native tests' executor (every future here is ready or wakes
/// itself at once: nothing waits for a device).
#[cfg(test)]
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use wdnn_runner_core::spec::weights::WeightsWriter;
    use wdnn_runner_core::spec::{
        BackendEntry, BinaryFn, DType, FileRef, Graph, IoBinding, Kernel, Manifest, Op, Storage, TensorDesc,
        TensorSignature, sha256_hex,
    };

    use super::*;

    /// A bundle whose one fallback kernel computes `y = x + [10, 20, 30, 40]` on `x: float32[1, 4]`.
    pub(crate) fn tiny_bundle() -> Vec<(String, Vec<u8>)> {
        let t = |name: &str, storage| TensorDesc { name: name.into(), dtype: DType::F32, shape: vec![1, 4], storage };
        let graph = Graph {
            name: "tiny".into(),
            backend: "fallback".into(),
            tensors: vec![
                t("x", Storage::Arena { offset: 0 }),
                t("w", Storage::Weight { id: 0 }),
                t("y", Storage::Arena { offset: 16 }),
            ],
            inputs: vec![IoBinding { name: "x".into(), tensor: 0 }],
            outputs: vec![IoBinding { name: "y".into(), tensor: 2 }],
            kernels: vec![Kernel {
                name: "add".into(),
                op: Op::Binary { fun: BinaryFn::Add },
                inputs: vec![0, 1],
                outputs: vec![2],
                payload: None,
            }],
            arena_size: 32,
            alignment: 16,
            shaders: vec![],
        };
        let mut weights = WeightsWriter::new();
        let w: Vec<u8> = [10f32, 20., 30., 40.].iter().flat_map(|v| v.to_le_bytes()).collect();
        weights.add_raw("w", DType::F32, &[1, 4], &w);
        let (graph, weights) = (graph.to_bytes().unwrap(), weights.finish(3).unwrap());
        let sig = |name: &str| TensorSignature { name: name.into(), dtype: DType::F32, shape: vec![1, 4] };
        let manifest = Manifest {
            model_name: "tiny".into(),
            source_sha256: sha256_hex(b"none"),
            converter: "test".into(),
            inputs: vec![sig("x")],
            outputs: vec![sig("y")],
            backends: vec![BackendEntry {
                backend: "fallback".into(),
                graph: FileRef::describe("fallback.graph", &graph),
                weights: FileRef::describe("fallback.weights", &weights),
                features: vec![],
            }],
            preprocessing: None,
        };
        vec![
            ("manifest.wdnn".to_string(), manifest.to_bytes().unwrap()),
            ("fallback.graph".to_string(), graph),
            ("fallback.weights".to_string(), weights),
        ]
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn x(values: &[f32]) -> HostTensor {
        HostTensor {
            name: "x".into(),
            dtype: "float32".into(),
            dims: vec![1.0, 4.0],
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    #[test]
    fn falls_through_to_fallback_and_runs() {
        let mut s = block_on(WebSession::load(FileSet::new(tiny_bundle()), &names(&["webgpu", "fallback"]), |_, _| {}))
            .unwrap();
        assert_eq!(s.backend(), "fallback");
        assert_eq!(s.skipped().len(), 1);
        assert_eq!(s.skipped()[0].backend, "webgpu");
        assert!(s.skipped()[0].reason.contains("not compiled into this package"), "{}", s.skipped()[0].reason);
        assert_eq!(s.inputs(), vec![("x".to_string(), "float32", vec![1, 4])]);
        assert_eq!(s.outputs(), vec![("y".to_string(), "float32", vec![1, 4])]);
        let out = block_on(s.run(vec![x(&[1., 2., 3., 4.])])).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].name.as_str(), out[0].dtype.as_str(), out[0].dims.clone()), ("y", "float32", vec![1., 4.]));
        let y: Vec<f32> = out[0].bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(y, vec![11., 22., 33., 44.]);
    }

    #[test]
    fn bad_inputs_are_named_errors() {
        let mut s = block_on(WebSession::load(FileSet::new(tiny_bundle()), &names(&["fallback"]), |_, _| {})).unwrap();
        let mut bad = x(&[1., 2., 3., 4.]);
        bad.dtype = "float".into();
        assert!(matches!(block_on(s.run(vec![bad])), Err(WebError::UnknownDType { .. })));
        let mut bad = x(&[1., 2., 3., 4.]);
        bad.dims = vec![1.0, -4.0];
        assert!(matches!(block_on(s.run(vec![bad])), Err(WebError::BadDims { .. })));
        let mut bad = x(&[1., 2., 3., 4.]);
        bad.dims = vec![4.0, 1.0];
        let err = block_on(s.run(vec![bad])).unwrap_err().to_string();
        assert!(err.contains("shape"), "{err}");
        let mut bad = x(&[1., 2., 3.]);
        bad.dims = vec![1.0, 4.0];
        assert!(block_on(s.run(vec![bad])).is_err());
        assert!(block_on(s.run(vec![])).unwrap_err().to_string().contains("missing"));
    }

    #[test]
    fn no_usable_backend_gives_every_reason_in_order() {
        let err = block_on(WebSession::load(FileSet::new(tiny_bundle()), &names(&["webgpu", "gpu2"]), |_, _| {}))
            .err()
            .unwrap();
        let WebError::NoBackend(skips) = err else { panic!("{err}") };
        assert_eq!(skips.iter().map(|s| s.backend.as_str()).collect::<Vec<_>>(), ["webgpu", "gpu2"]);
        assert!(block_on(WebSession::load(FileSet::new(tiny_bundle()), &[], |_, _| {})).is_err());
    }

    #[test]
    fn a_corrupted_weights_file_is_reported() {
        let mut files = tiny_bundle();
        let last = files[2].1.len() - 1;
        files[2].1[last] ^= 0xff;
        let err = block_on(WebSession::load(FileSet::new(files), &names(&["fallback"]), |_, _| {})).err().unwrap();
        let WebError::NoBackend(skips) = err else { panic!("{err}") };
        assert!(skips[0].reason.contains("failed to load"), "{}", skips[0].reason);
    }

    /// Serves the files of a bundle on request, logging each.
    struct Served(Vec<(String, Vec<u8>)>, std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl crate::files::Fetch for Served {
        fn fetch<'a>(
            &'a self,
            files: &'a [String],
        ) -> wdnn_runner_core::LocalFuture<'a, Result<Vec<Vec<u8>>, crate::files::FetchError>> {
            self.1.lock().unwrap().extend(files.iter().cloned());
            let found = files.iter().map(|f| {
                let bytes = self.0.iter().find(|(n, _)| n == f).map(|(_, b)| b.clone());
                bytes.ok_or_else(|| crate::files::FetchError { file: f.clone(), message: "not served".into() })
            });
            Box::pin(std::future::ready(found.collect()))
        }
    }

    #[test]
    fn only_the_manifest_is_given_and_the_chosen_backends_files_are_fetched() {
        let files = tiny_bundle();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let set = FileSet::with_fetch([files[0].clone()], Box::new(Served(files.clone(), log.clone())), "a server");
        let mut s = block_on(WebSession::load(set, &names(&["webgpu", "fallback"]), |_, _| {})).unwrap();
        assert_eq!(s.backend(), "fallback");
        assert_eq!(*log.lock().unwrap(), ["fallback.graph", "fallback.weights"]);
        let out = block_on(s.run(vec![x(&[0., 0., 0., 0.])])).unwrap();
        assert_eq!(out[0].bytes.len(), 16);

        let set = FileSet::with_fetch([files[0].clone()], Box::new(Served(vec![], log.clone())), "a server");
        let WebError::NoBackend(skips) =
            block_on(WebSession::load(set, &names(&["fallback"]), |_, _| {})).err().unwrap()
        else {
            panic!("nothing was served")
        };
        assert!(skips[0].reason.contains("not served") && skips[0].reason.contains("a server"), "{}", skips[0].reason);
    }

    #[test]
    fn needed_files_are_those_of_the_backends_asked() {
        let files = tiny_bundle();
        let all = crate::files::needed_files(&files[0].1, &names(&["webgpu", "fallback"])).unwrap();
        assert_eq!(all, names(&["manifest.wdnn", "fallback.graph", "fallback.weights"]));
        let none = crate::files::needed_files(&files[0].1, &names(&["webgpu"])).unwrap();
        assert_eq!(none, names(&["manifest.wdnn"]));
    }
}
