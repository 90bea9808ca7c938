use std::future::Future;
use std::pin::Pin;

use wdnn_descriptor_spec::Graph;

use crate::{Result, RunnerError, Tensor, Weights};

/// A boxed future that need not be `Send`: in a browser, GPU handles live on one thread and nothing may block, so the
/// async entry points of [`Backend`] and [`Executable`] return these.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A way to run graph descriptors: the reference CPU kernels, WebAssembly SIMD, WebGPU…
///
/// Object safe, so that a caller can hold an ordered list of `&dyn Backend` and let [`crate::load`] (or a
/// [`crate::Registry`]) pick. The async methods default to the sync ones; a backend that must wait for something
/// it cannot block on in a browser (a GPU adapter) overrides them.
pub trait Backend {
    /// The backend's name, which is also the name of the descriptor it consumes from a bundle.
    fn name(&self) -> &str;

    /// Checks that the backend can run here (an adapter exists, its limits suffice…). The error says why not.
    fn probe(&self) -> std::result::Result<(), String>;

    /// Prepares `graph` with its `weights` for repeated runs.
    fn load(&self, graph: &Graph, weights: &Weights) -> Result<Box<dyn Executable>>;

    /// Loads this backend's descriptor from `bundle` (after a successful probe), calling `progress(done, total)`
    /// while the weights are decoded. The default decodes the graph and the weights
    /// ([`crate::Bundle::load_backend`]) and then calls [`Backend::load`]; a backend that can start on the graph while
    /// the weights decode (creating GPU pipelines, say) overrides it.
    fn load_from(&self, bundle: &crate::Bundle, progress: &mut dyn FnMut(u64, u64)) -> Result<Box<dyn Executable>> {
        let (graph, weights) = bundle.load_backend(self.name(), progress)?;
        self.load(&graph, &weights)
    }

    /// [`Backend::probe`] without blocking.
    fn probe_async(&self) -> LocalFuture<'_, std::result::Result<(), String>> {
        Box::pin(std::future::ready(self.probe()))
    }

    /// [`Backend::load`] without blocking.
    fn load_async<'a>(
        &'a self,
        graph: &'a Graph,
        weights: &'a Weights,
    ) -> LocalFuture<'a, Result<Box<dyn Executable>>> {
        Box::pin(std::future::ready(self.load(graph, weights)))
    }
}

/// `Send` natively; nothing in a browser's main thread is (WebGPU objects there are bound to their thread).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
/// `Send` natively; nothing in a browser's main thread is (WebGPU objects there are bound to their thread).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Send + Sync` natively, nothing in a browser.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}
/// `Send + Sync` natively, nothing in a browser.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

/// A model loaded on a backend. Natively it is `Send`, so a [`crate::Session`] can move to the thread that runs it.
pub trait Executable: MaybeSend {
    /// Runs the model. `inputs` are in the graph's input order; the result holds the outputs in the graph's output
    /// order. An executable a caller can reach without a [`crate::Session`] checks its inputs with
    /// [`crate::check_inputs`].
    fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>>;

    /// [`Executable::run`] without blocking.
    fn run_async<'a>(&'a mut self, inputs: &'a [Tensor]) -> LocalFuture<'a, Result<Vec<Tensor>>> {
        Box::pin(std::future::ready(self.run(inputs)))
    }

    /// Which kernel runs each of the graph's kernels, in graph order, so that a slow path is never taken silently.
    /// Empty when the backend does not report.
    fn kernel_report(&self) -> Vec<KernelChoice> {
        Vec::new()
    }
}

/// The implementation a backend chose for one kernel of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelChoice {
    /// The graph kernel's name.
    pub node: String,
    /// Its op (`Op::name`).
    pub op: String,
    /// The implementation that runs it: `reference`, `wasm.gemm4x8`, `webgpu.<shader>`…
    pub kernel: String,
}

/// Why a backend was passed over by [`crate::load`] or a [`crate::Registry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The backend.
    pub backend: String,
    /// What kind of reason it is.
    pub kind: SkipKind,
    /// Why it was skipped.
    pub reason: String,
}

/// The kinds of reasons a backend is passed over, from "cannot be tried at all" to "tried and failed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipKind {
    /// The backend is known but this build does not include it.
    NotCompiled,
    /// The bundle holds no descriptor for it.
    NoDescriptor,
    /// It cannot run on this machine or browser: no adapter, a limit that falls short, a disabled switch.
    Unavailable,
    /// It could run here, but loading this model failed (a corrupted descriptor, an unsupported kernel…).
    Failed,
}

impl Skip {
    pub(crate) fn not_compiled(backend: &str, compiled: &str) -> Skip {
        let reason = format!("not compiled into this build (compiled in: {compiled})");
        Skip { backend: backend.to_string(), kind: SkipKind::NotCompiled, reason }
    }

    pub(crate) fn no_descriptor(backend: &str) -> Skip {
        let reason = "the bundle has no descriptor for it".to_string();
        Skip { backend: backend.to_string(), kind: SkipKind::NoDescriptor, reason }
    }

    pub(crate) fn probe_failed(backend: &str, reason: String) -> Skip {
        Skip { backend: backend.to_string(), kind: SkipKind::Unavailable, reason: format!("unavailable: {reason}") }
    }

    /// A load error: [`RunnerError::Unavailable`] (found only while loading, e.g. a device limit) is still
    /// "unavailable here"; anything else is a failure to load this model.
    pub(crate) fn load_failed(backend: &str, error: RunnerError) -> Skip {
        match error {
            RunnerError::Unavailable { reason, .. } => Skip::probe_failed(backend, reason),
            e => Skip { backend: backend.to_string(), kind: SkipKind::Failed, reason: format!("failed to load: {e}") },
        }
    }
}
