//! Backend selection, for every application (the xtask CLI, the wasm package): which backends exist, the order
//! `auto` tries them in, the `WDNN_BACKEND` override, and loading with fall-through that keeps every skipped
//! backend's reason.
//!
//! The application fills a [`Registry`] with a factory per backend compiled into it (this crate depends on no
//! backend). A name in [`DEFAULT_ORDER`] that was not registered is skipped as "not compiled into this build", which
//! is a different reason from "unavailable here" (no adapter, a limit) and "failed to load" (see [`SkipKind`]). A name
//! nobody knows is an error, not a skip.

use crate::backend::{Backend, Skip};
use crate::session::{try_load, try_load_async};
use crate::{Bundle, Result, RunnerError, Session};

/// The order `auto` tries backends in: the GPU, then the fast CPU backend, then the exact reference.
pub const DEFAULT_ORDER: [&str; 3] = ["webgpu", "wasm", "fallback"];

/// Backends that run another backend's kinds of descriptors in a variant form, each with its base: `webgpu-f16`
/// (SPEC §6.1.1: binary16 storage, for adapters with `shader-f16`) is a variant of `webgpu`. Where the application
/// registers one, `auto` tries it right before its base; and where the bundle has no descriptor for a variant whose
/// base comes later in the order, it is passed over without a skip entry (it is the base backend's better form, not
/// another backend that was missing: every bundle converted without it would otherwise report it). A bundle that has
/// it but an adapter without the feature skips it with the reason, then runs the base descriptor.
pub const VARIANTS: [(&str, &str); 1] = [("webgpu-f16", "webgpu")];

/// The environment variable that overrides `auto`: a backend name or a comma-separated list, tried in that order.
pub const BACKEND_ENV: &str = "WDNN_BACKEND";

type Factory = Box<dyn Fn() -> Box<dyn Backend>>;

/// The backends an application has compiled in, each made on demand by its factory.
#[derive(Default)]
pub struct Registry {
    factories: Vec<(String, Factory)>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers the backend `name` (replacing an earlier registration of that name). `factory` is called each time
    /// the backend is tried, so it should be cheap: backends find their devices in `probe`.
    pub fn register(&mut self, name: &str, factory: impl Fn() -> Box<dyn Backend> + 'static) -> &mut Registry {
        self.factories.retain(|(n, _)| n != name);
        self.factories.push((name.to_string(), Box::new(factory)));
        self
    }

    /// The registered backends' names, in the order `auto` tries them.
    pub fn compiled_in(&self) -> Vec<&str> {
        self.default_order().into_iter().filter(|n| self.factory(n).is_some()).collect()
    }

    /// A new instance of backend `name`, if it is compiled in.
    pub fn create(&self, name: &str) -> Option<Box<dyn Backend>> {
        self.factory(name).map(|f| f())
    }

    /// One instance of every compiled-in backend, in the order `auto` tries them.
    pub fn backends(&self) -> Vec<Box<dyn Backend>> {
        self.compiled_in().into_iter().filter_map(|n| self.create(n)).collect()
    }

    /// The backend names `selection` asks for, in order: `auto` (or empty) is the [`BACKEND_ENV`] override when it
    /// is set, else [`DEFAULT_ORDER`] followed by any other registered backend; otherwise a comma-separated list of
    /// names. Names may be known but not compiled in; unknown names are an error.
    pub fn order(&self, selection: &str) -> Result<Vec<String>> {
        self.order_with_env(selection, std::env::var(BACKEND_ENV).ok().as_deref())
    }

    /// [`Registry::order`] with the override's value given (`None`: unset), for callers without an environment.
    pub fn order_with_env(&self, selection: &str, env: Option<&str>) -> Result<Vec<String>> {
        match (is_auto(selection), env.filter(|v| !v.trim().is_empty())) {
            (true, Some(value)) => self.parse(value, BACKEND_ENV),
            (true, None) => Ok(self.default_order().into_iter().map(str::to_string).collect()),
            (false, _) => self.parse(selection, "the backend selection"),
        }
    }

    /// Loads `bundle` on the first backend of `selection` (see [`Registry::order`]) that is compiled in, has a
    /// descriptor, is available here and loads the model; the session keeps why each earlier one was skipped.
    pub fn load(&self, bundle: &Bundle, selection: &str, mut progress: impl FnMut(u64, u64)) -> Result<Session> {
        self.load_order(bundle, &self.order(selection)?, &mut progress)
    }

    /// [`Registry::load`] for names already resolved by [`Registry::order_with_env`].
    pub fn load_order(&self, bundle: &Bundle, order: &[String], mut progress: impl FnMut(u64, u64)) -> Result<Session> {
        let mut skipped = Vec::new();
        for (i, name) in order.iter().enumerate() {
            if silent_variant(bundle, order, i) {
                continue;
            }
            let Some(backend) = self.create(name) else {
                skipped.push(Skip::not_compiled(name, &self.compiled_in().join(", ")));
                continue;
            };
            match try_load(bundle, backend.as_ref(), &mut progress) {
                Ok(executable) => return Ok(Session::new(bundle, name, skipped, executable)),
                Err(skip) => skipped.push(skip),
            }
        }
        Err(RunnerError::NoBackend { attempts: skipped })
    }

    /// [`Registry::load`] without blocking or threads (a browser): backends are probed and loaded through their async
    /// methods, with the same order and reasons. There is no environment in a browser, so pass the order from
    /// [`Registry::order_with_env`].
    pub async fn load_async(
        &self,
        bundle: &Bundle,
        order: &[String],
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Session> {
        let mut skipped = Vec::new();
        for (i, name) in order.iter().enumerate() {
            if silent_variant(bundle, order, i) {
                continue;
            }
            let Some(backend) = self.create(name) else {
                skipped.push(Skip::not_compiled(name, &self.compiled_in().join(", ")));
                continue;
            };
            match try_load_async(bundle, backend.as_ref(), &mut progress).await {
                Ok(executable) => return Ok(Session::new(bundle, name, skipped, executable)),
                Err(skip) => skipped.push(skip),
            }
        }
        Err(RunnerError::NoBackend { attempts: skipped })
    }

    fn factory(&self, name: &str) -> Option<&Factory> {
        self.factories.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }

    /// [`DEFAULT_ORDER`] with each registered [`VARIANTS`] entry right before its base, then the other registered
    /// backends it does not name, in registration order.
    fn default_order(&self) -> Vec<&str> {
        let registered = |n: &str| self.factory(n).is_some();
        let mut order: Vec<&str> = Vec::new();
        for name in DEFAULT_ORDER {
            order.extend(VARIANTS.iter().filter(|(v, base)| *base == name && registered(v)).map(|(v, _)| *v));
            order.push(name);
        }
        let extra: Vec<&str> = self.factories.iter().map(|(n, _)| n.as_str()).filter(|n| !order.contains(n)).collect();
        order.extend(extra);
        order
    }

    /// A comma-separated list of names (`auto` inside it stands for the default order), without repeats.
    fn parse(&self, list: &str, source: &str) -> Result<Vec<String>> {
        let known = self.default_order();
        let mut order: Vec<String> = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let names: Vec<&str> = if is_auto(name) { known.clone() } else { vec![name] };
            for n in names {
                if !known.contains(&n) {
                    return Err(RunnerError::UnknownBackend {
                        name: n.to_string(),
                        from: source.to_string(),
                        known: known.join(", "),
                    });
                }
                if !order.iter().any(|o| o == n) {
                    order.push(n.to_string());
                }
            }
        }
        Ok(order)
    }
}

/// Whether `order[i]` is a variant the bundle has no descriptor for, with its base later in `order`: passed over
/// without a skip entry (see [`VARIANTS`]).
fn silent_variant(bundle: &Bundle, order: &[String], i: usize) -> bool {
    let name = order[i].as_str();
    VARIANTS.iter().any(|(v, base)| *v == name && order[i + 1..].iter().any(|n| n == base))
        && bundle.manifest.backend(name).is_none()
}

fn is_auto(selection: &str) -> bool {
    let s = selection.trim();
    s.is_empty() || s == "auto"
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use wdnn_descriptor_spec::manifest::{BackendEntry, FileRef, MANIFEST_FILE, Manifest, TensorSignature};
    use wdnn_descriptor_spec::weights::WeightsWriter;
    use wdnn_descriptor_spec::{DType, Graph, IoBinding, Kernel, Op, Storage, TensorDesc, UnaryFn};

    use super::*;
    use crate::backend::{Executable, LocalFuture, SkipKind};
    use crate::{BundleSource, MemorySource, Tensor, Weights};

    /// A backend whose probe and load do what the test says; `async_only` ones cannot answer synchronously, as
    /// WebGPU in a browser.
    #[derive(Clone)]
    struct Fake {
        name: &'static str,
        probe: std::result::Result<(), String>,
        load: Option<fn(&str) -> RunnerError>,
        async_only: bool,
    }

    fn fake(name: &'static str) -> Fake {
        Fake { name, probe: Ok(()), load: None, async_only: false }
    }

    /// Copies input 0 to output 0.
    struct Echo;

    impl Executable for Echo {
        fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
            Ok(inputs.to_vec())
        }
    }

    impl Backend for Fake {
        fn name(&self) -> &str {
            self.name
        }
        fn probe(&self) -> std::result::Result<(), String> {
            if self.async_only {
                return Err("cannot wait synchronously".into());
            }
            self.probe.clone()
        }
        fn load(&self, _graph: &Graph, _weights: &Weights) -> Result<Box<dyn Executable>> {
            match self.load {
                Some(error) => Err(error(self.name)),
                None => Ok(Box::new(Echo)),
            }
        }
        fn probe_async(&self) -> LocalFuture<'_, std::result::Result<(), String>> {
            let answer = self.probe.clone();
            Box::pin(async move {
                YieldOnce(false).await;
                answer
            })
        }
    }

    /// Pending once, so an async path that never polls again would hang the test instead of passing.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn registry(backends: &[Fake]) -> Registry {
        let mut r = Registry::new();
        for b in backends {
            let b = b.clone();
            r.register(b.name, move || Box::new(b.clone()));
        }
        r
    }

    /// A bundle in memory with a one-kernel descriptor (`y = relu(x)`) for each of `backends`.
    fn bundle(backends: &[&str]) -> Bundle {
        Bundle::from_source(Box::new(MemorySource(bundle_files(backends)))).unwrap()
    }

    /// The files of [`bundle`].
    fn bundle_files(backends: &[&str]) -> Vec<(String, Vec<u8>)> {
        let sig = |name: &str| TensorSignature { name: name.into(), dtype: DType::F32, shape: vec![1] };
        let weights = WeightsWriter::new().finish(1).unwrap();
        let mut files = vec![("w".to_string(), weights.clone())];
        let mut entries = Vec::new();
        for &backend in backends {
            let tensor = |name: &str, offset| TensorDesc {
                name: name.into(),
                dtype: DType::F32,
                shape: vec![1],
                storage: Storage::Arena { offset },
            };
            let graph = Graph {
                name: "m".into(),
                backend: backend.into(),
                tensors: vec![tensor("x", 0), tensor("y", 4)],
                inputs: vec![IoBinding { name: "x".into(), tensor: 0 }],
                outputs: vec![IoBinding { name: "y".into(), tensor: 1 }],
                kernels: vec![Kernel {
                    name: "relu".into(),
                    op: Op::Unary { fun: UnaryFn::Relu },
                    inputs: vec![0],
                    outputs: vec![1],
                    payload: None,
                }],
                arena_size: 8,
                alignment: 4,
                shaders: vec![],
            };
            let bytes = graph.to_bytes().unwrap();
            let file = format!("{backend}.graph");
            entries.push(BackendEntry {
                backend: backend.into(),
                graph: FileRef::describe(&file, &bytes),
                weights: FileRef::describe("w", &weights),
                features: vec![],
            });
            files.push((file, bytes));
        }
        let manifest = Manifest {
            model_name: "m".into(),
            source_sha256: String::new(),
            converter: "test".into(),
            inputs: vec![sig("x")],
            outputs: vec![sig("y")],
            backends: entries,
            preprocessing: None,
        };
        files.push((MANIFEST_FILE.into(), manifest.to_bytes().unwrap()));
        files
    }

    /// A source that logs which files it was asked to fetch, and refuses `refuse`'s.
    struct Fetching {
        files: MemorySource,
        fetched: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        refuse: &'static str,
    }

    impl BundleSource for Fetching {
        fn read(&self, file: &str) -> std::io::Result<Vec<u8>> {
            self.files.read(file)
        }
        fn describe(&self) -> String {
            "the test's network".into()
        }
        fn fetch_async<'a>(&'a self, files: &'a [String]) -> LocalFuture<'a, Result<()>> {
            Box::pin(async move {
                YieldOnce(false).await;
                self.fetched.lock().unwrap().extend(files.iter().cloned());
                match files.iter().find(|f| f.as_str() == self.refuse) {
                    Some(file) => Err(RunnerError::Io {
                        file: file.clone(),
                        source_name: self.describe(),
                        error: std::io::Error::other("chunk 0 is corrupted"),
                    }),
                    None => Ok(()),
                }
            })
        }
    }

    fn kinds(skipped: &[Skip]) -> Vec<(&str, SkipKind)> {
        skipped.iter().map(|s| (s.backend.as_str(), s.kind)).collect()
    }

    #[test]
    fn auto_is_the_default_order_then_other_registered_backends() {
        let r = registry(&[fake("fallback"), fake("other"), fake("webgpu")]);
        assert_eq!(r.order_with_env("auto", None).unwrap(), ["webgpu", "wasm", "fallback", "other"]);
        assert_eq!(r.order_with_env("", None).unwrap(), r.order_with_env("auto", None).unwrap());
        assert_eq!(r.compiled_in(), ["webgpu", "fallback", "other"]);
        let names: Vec<String> = r.backends().iter().map(|b| b.name().to_string()).collect();
        assert_eq!(names, ["webgpu", "fallback", "other"]);
    }

    #[test]
    fn the_environment_overrides_auto_but_not_an_explicit_choice() {
        let r = registry(&[fake("fallback"), fake("webgpu")]);
        assert_eq!(r.order_with_env("auto", Some("fallback, webgpu")).unwrap(), ["fallback", "webgpu"]);
        assert_eq!(r.order_with_env("auto", Some("  ")).unwrap(), ["webgpu", "wasm", "fallback"]);
        assert_eq!(r.order_with_env("webgpu", Some("fallback")).unwrap(), ["webgpu"]);
        assert_eq!(r.order_with_env("fallback,auto,fallback", None).unwrap(), ["fallback", "webgpu", "wasm"]);
        let err = r.order_with_env("auto", Some("webgpu,cuda")).unwrap_err();
        assert!(
            matches!(&err, RunnerError::UnknownBackend { name, from, .. } if name == "cuda" && from == BACKEND_ENV)
        );
        assert!(err.to_string().contains("known: webgpu, wasm, fallback"), "{err}");
        let err = r.order_with_env("gpu", None).unwrap_err();
        assert!(matches!(&err, RunnerError::UnknownBackend { name, .. } if name == "gpu"), "{err}");
    }

    #[test]
    fn load_falls_through_keeping_each_kind_of_reason() {
        let bundle = bundle(&["webgpu", "wasm", "fallback"]);
        let webgpu = Fake { probe: Err("no adapter".into()), ..fake("webgpu") };
        let r = registry(&[webgpu, fake("fallback")]);
        let mut session = r.load(&bundle, "auto", |_, _| {}).unwrap();
        assert_eq!(session.backend(), "fallback");
        assert_eq!(kinds(session.skipped()), [("webgpu", SkipKind::Unavailable), ("wasm", SkipKind::NotCompiled)]);
        assert_eq!(session.skipped()[0].reason, "unavailable: no adapter");
        assert!(session.skipped()[1].reason.contains("not compiled into this build"), "{:?}", session.skipped());
        let x = Tensor::new(&[1], &[5f32]).unwrap();
        assert_eq!(session.run(&[("x", x.clone())]).unwrap(), vec![("y".to_string(), x)]);
    }

    #[test]
    fn a_registered_variant_goes_before_its_base_and_is_silent_where_the_bundle_lacks_it() {
        let f16 = Fake { probe: Err("the adapter lacks shader-f16".into()), ..fake("webgpu-f16") };
        let r = registry(&[fake("fallback"), fake("webgpu"), f16]);
        let auto = r.order_with_env("auto", None).unwrap();
        assert_eq!(auto, ["webgpu-f16", "webgpu", "wasm", "fallback"]);
        // Not registered: not in the order, and an unknown name.
        assert_eq!(registry(&[fake("webgpu")]).order_with_env("auto", None).unwrap(), ["webgpu", "wasm", "fallback"]);
        assert!(registry(&[fake("webgpu")]).order_with_env("webgpu-f16", None).is_err());
        // A bundle without the variant: no entry for it.
        let session = r.load(&bundle(&["webgpu", "fallback"]), "auto", |_, _| {}).unwrap();
        assert_eq!((session.backend(), kinds(session.skipped())), ("webgpu", vec![]));
        // With it, on an adapter without the feature: skipped with the reason, then the base runs.
        let session = r.load(&bundle(&["webgpu-f16", "webgpu", "fallback"]), "auto", |_, _| {}).unwrap();
        assert_eq!(session.backend(), "webgpu");
        assert_eq!(kinds(session.skipped()), [("webgpu-f16", SkipKind::Unavailable)]);
        assert_eq!(session.skipped()[0].reason, "unavailable: the adapter lacks shader-f16");
        let order = r.order_with_env("auto", None).unwrap();
        let session = block_on(r.load_async(&bundle(&["webgpu-f16", "webgpu"]), &order, |_, _| {})).unwrap();
        assert_eq!(kinds(session.skipped()), [("webgpu-f16", SkipKind::Unavailable)]);
        // Asked for alone, a missing variant is reported like any backend.
        let Err(RunnerError::NoBackend { attempts }) = r.load(&bundle(&["webgpu"]), "webgpu-f16", |_, _| {}) else {
            panic!("the bundle has no webgpu-f16 descriptor");
        };
        assert_eq!(kinds(&attempts), [("webgpu-f16", SkipKind::NoDescriptor)]);
        let ok = registry(&[fake("webgpu"), fake("webgpu-f16")]);
        assert_eq!(ok.load(&bundle(&["webgpu-f16", "webgpu"]), "auto", |_, _| {}).unwrap().backend(), "webgpu-f16");
    }

    #[test]
    fn load_errors_are_unavailable_or_failed_and_all_are_reported() {
        let bundle = bundle(&["webgpu", "wasm"]);
        let limits = |b: &str| RunnerError::Unavailable { backend: b.into(), reason: "maxBufferSize is 4".into() };
        let unsupported = |b: &str| RunnerError::Unsupported {
            backend: b.into(),
            kernel: "k".into(),
            op: "Conv".into(),
            detail: "no".into(),
        };
        let r = registry(&[
            Fake { load: Some(limits), ..fake("webgpu") },
            Fake { load: Some(unsupported), ..fake("wasm") },
            fake("fallback"),
        ]);
        let Err(RunnerError::NoBackend { attempts }) = r.load(&bundle, "auto", |_, _| {}) else {
            panic!("every backend should fail");
        };
        assert_eq!(
            kinds(&attempts),
            [("webgpu", SkipKind::Unavailable), ("wasm", SkipKind::Failed), ("fallback", SkipKind::NoDescriptor)]
        );
        assert_eq!(attempts[0].reason, "unavailable: maxBufferSize is 4");
        assert!(attempts[1].reason.starts_with("failed to load: backend `wasm` does not support"), "{attempts:?}");
    }

    #[test]
    fn async_load_uses_the_async_probe_with_the_same_reasons() {
        let bundle = bundle(&["webgpu", "fallback"]);
        let r = registry(&[Fake { async_only: true, ..fake("webgpu") }, fake("fallback")]);
        let order = r.order_with_env("auto", None).unwrap();
        let sync = r.load_order(&bundle, &order, |_, _| {}).unwrap();
        assert_eq!(sync.backend(), "fallback");
        assert_eq!(sync.skipped()[0].kind, SkipKind::Unavailable);
        let mut session = block_on(r.load_async(&bundle, &order, |_, _| {})).unwrap();
        assert_eq!(session.backend(), "webgpu");
        assert_eq!(kinds(session.skipped()), []);
        let x = Tensor::new(&[1], &[2f32]).unwrap();
        assert_eq!(block_on(session.run_async(&[("x", x.clone())])).unwrap(), vec![("y".to_string(), x)]);
        let bad = Tensor::new(&[2], &[2f32, 3.]).unwrap();
        assert!(matches!(block_on(session.run_async(&[("x", bad)])), Err(RunnerError::InputShape { .. })));

        let failing = registry(&[Fake { async_only: true, probe: Err("no adapter".into()), ..fake("webgpu") }]);
        let Err(RunnerError::NoBackend { attempts }) = block_on(failing.load_async(&bundle, &order, |_, _| {})) else {
            panic!("no backend should load");
        };
        assert_eq!(
            kinds(&attempts),
            [("webgpu", SkipKind::Unavailable), ("wasm", SkipKind::NotCompiled), ("fallback", SkipKind::NotCompiled)]
        );
    }

    #[test]
    fn async_load_fetches_only_the_files_of_backends_that_passed_their_probe() {
        let fetched = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let source = |refuse| Fetching {
            files: MemorySource(bundle_files(&["webgpu", "wasm", "fallback"])),
            fetched: fetched.clone(),
            refuse,
        };
        let r = registry(&[Fake { probe: Err("no adapter".into()), ..fake("webgpu") }, fake("wasm"), fake("fallback")]);
        let order = r.order_with_env("auto", None).unwrap();
        let bundle = Bundle::from_source(Box::new(source(""))).unwrap();
        let session = block_on(r.load_async(&bundle, &order, |_, _| {})).unwrap();
        assert_eq!(session.backend(), "wasm");
        assert_eq!(*fetched.lock().unwrap(), ["wasm.graph", "w"]);

        // A fetch that fails (a damaged download) moves on to the next backend, with the error as the reason.
        fetched.lock().unwrap().clear();
        let bundle = Bundle::from_source(Box::new(source("wasm.graph"))).unwrap();
        let session = block_on(r.load_async(&bundle, &order, |_, _| {})).unwrap();
        assert_eq!(session.backend(), "fallback");
        assert_eq!(*fetched.lock().unwrap(), ["wasm.graph", "w", "fallback.graph", "w"]);
        assert_eq!(kinds(session.skipped()), [("webgpu", SkipKind::Unavailable), ("wasm", SkipKind::Failed)]);
        assert!(
            session.skipped()[1].reason.contains("`wasm.graph`") && session.skipped()[1].reason.contains("chunk 0")
        );
    }
}
