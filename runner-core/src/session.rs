use wdnn_descriptor_spec::TensorSignature;

use crate::backend::{Backend, Executable, KernelChoice, Skip};
use crate::inputs::order_inputs;
use crate::{Bundle, Result, RunnerError, Tensor};

/// A model loaded on one backend, ready to run.
///
/// Natively a session is `Send` (it can move to the thread that runs it) but not `Sync`: a run takes `&mut self`
/// because it writes the session's working memory (arena, GPU buffers). Threads that run one model at the same time
/// each load their own session, from one shared [`Bundle`] (which is `Send + Sync`); threads that must share one
/// session put it behind a `Mutex`, one run at a time. In a browser nothing is `Send`: one session per worker.
pub struct Session {
    backend: String,
    skipped: Vec<Skip>,
    inputs: Vec<TensorSignature>,
    outputs: Vec<TensorSignature>,
    executable: Box<dyn Executable>,
}

/// Loads `bundle` on the first backend of `order` that is available and accepts the model, falling through on each
/// failure. The session reports the chosen backend and why every earlier one was skipped. A [`crate::Registry`] does
/// the same from backend names, and [`load_async`] without blocking.
pub fn load(bundle: &Bundle, order: &[&dyn Backend], mut progress: impl FnMut(u64, u64)) -> Result<Session> {
    let mut skipped = Vec::new();
    for backend in order {
        match try_load(bundle, *backend, &mut progress) {
            Ok(executable) => return Ok(Session::new(bundle, backend.name(), skipped, executable)),
            Err(skip) => skipped.push(skip),
        }
    }
    Err(RunnerError::NoBackend { attempts: skipped })
}

/// [`load`] without blocking: each backend is probed and loaded through its async methods (what a browser needs).
pub async fn load_async(
    bundle: &Bundle,
    order: &[&dyn Backend],
    mut progress: impl FnMut(u64, u64),
) -> Result<Session> {
    let mut skipped = Vec::new();
    for backend in order {
        match try_load_async(bundle, *backend, &mut progress).await {
            Ok(executable) => return Ok(Session::new(bundle, backend.name(), skipped, executable)),
            Err(skip) => skipped.push(skip),
        }
    }
    Err(RunnerError::NoBackend { attempts: skipped })
}

/// One backend's attempt: a descriptor in the bundle, then the probe, then decoding and loading.
pub(crate) fn try_load(
    bundle: &Bundle,
    backend: &dyn Backend,
    progress: &mut impl FnMut(u64, u64),
) -> std::result::Result<Box<dyn Executable>, Skip> {
    let name = backend.name();
    if bundle.manifest.backend(name).is_none() {
        return Err(Skip::no_descriptor(name));
    }
    backend.probe().map_err(|reason| Skip::probe_failed(name, reason))?;
    backend.load_from(bundle, progress).map_err(|e| Skip::load_failed(name, e))
}

/// [`try_load`] through the backend's async probe and load, with the same reasons; the bundle's source fetches the
/// backend's files between the probe and the load (a browser downloads only the chosen backend's descriptor).
pub(crate) async fn try_load_async(
    bundle: &Bundle,
    backend: &dyn Backend,
    progress: &mut impl FnMut(u64, u64),
) -> std::result::Result<Box<dyn Executable>, Skip> {
    let name = backend.name();
    if bundle.manifest.backend(name).is_none() {
        return Err(Skip::no_descriptor(name));
    }
    backend.probe_async().await.map_err(|reason| Skip::probe_failed(name, reason))?;
    bundle.fetch_backend_async(name).await.map_err(|e| Skip::load_failed(name, e))?;
    let (graph, weights) = bundle.load_backend(name, progress).map_err(|e| Skip::load_failed(name, e))?;
    backend.load_async(&graph, &weights).await.map_err(|e| Skip::load_failed(name, e))
}

impl Session {
    pub(crate) fn new(bundle: &Bundle, backend: &str, skipped: Vec<Skip>, executable: Box<dyn Executable>) -> Session {
        Session {
            backend: backend.to_string(),
            skipped,
            inputs: bundle.manifest.inputs.clone(),
            outputs: bundle.manifest.outputs.clone(),
            executable,
        }
    }

    /// The backend the model runs on.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The backends tried before this one, and why each was skipped.
    pub fn skipped(&self) -> &[Skip] {
        &self.skipped
    }

    /// Which implementation runs each kernel of the graph (empty when the backend does not report).
    pub fn kernel_report(&self) -> Vec<KernelChoice> {
        self.executable.kernel_report()
    }

    /// The model's inputs.
    pub fn inputs(&self) -> &[TensorSignature] {
        &self.inputs
    }

    /// The model's outputs.
    pub fn outputs(&self) -> &[TensorSignature] {
        &self.outputs
    }

    /// Runs the model on named inputs (each exactly once) and returns the named outputs in signature order.
    pub fn run(&mut self, inputs: &[(&str, Tensor)]) -> Result<Vec<(String, Tensor)>> {
        let ordered = order_inputs(&self.inputs, inputs)?;
        let outputs = self.executable.run(&ordered)?;
        Ok(self.outputs.iter().map(|s| s.name.clone()).zip(outputs).collect())
    }

    /// [`Session::run`] without blocking (a browser's WebGPU run), with the same input checks.
    pub async fn run_async(&mut self, inputs: &[(&str, Tensor)]) -> Result<Vec<(String, Tensor)>> {
        let ordered = order_inputs(&self.inputs, inputs)?;
        let outputs = self.executable.run_async(&ordered).await?;
        Ok(self.outputs.iter().map(|s| s.name.clone()).zip(outputs).collect())
    }
}

/// The thread rules of [`Session`]'s docs, checked by the compiler on native targets: a change that made a session
/// lose `Send` or a bundle lose `Sync` (an `Rc` in a backend's executable, a `RefCell` in a source) fails to build.
#[cfg(not(target_arch = "wasm32"))]
const _: () = {
    const fn send<T: Send>() {}
    const fn send_sync<T: Send + Sync>() {}
    send::<Session>();
    send::<Box<dyn Executable>>();
    send_sync::<Bundle>();
    send_sync::<crate::Weights>();
    send_sync::<Tensor>();
    send_sync::<RunnerError>();
};
