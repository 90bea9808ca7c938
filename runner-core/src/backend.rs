use wdnn_descriptor_spec::Graph;

use crate::{Result, Tensor, Weights};

/// A way to run graph descriptors: the reference CPU kernels, WebAssembly SIMD, WebGPU…
///
/// Object safe, so that a caller can hold an ordered list of `&dyn Backend` and let [`crate::load`] pick.
pub trait Backend {
    /// The backend's name, which is also the name of the descriptor it consumes from a bundle.
    fn name(&self) -> &str;

    /// Checks that the backend can run here (an adapter exists, its limits suffice…). The error says why not.
    fn probe(&self) -> std::result::Result<(), String>;

    /// Prepares `graph` with its `weights` for repeated runs.
    fn load(&self, graph: &Graph, weights: &Weights) -> Result<Box<dyn Executable>>;
}

/// A model loaded on a backend.
pub trait Executable {
    /// Runs the model. `inputs` are in the graph's input order and already checked against the signature; the
    /// result holds the outputs in the graph's output order.
    fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>>;

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

/// Why a backend was passed over by [`crate::load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The backend.
    pub backend: String,
    /// Why it was skipped.
    pub reason: String,
}
