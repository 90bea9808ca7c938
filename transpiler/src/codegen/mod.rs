//! Per-backend code generation behind one interface. A [`Target`] says how its descriptor is laid out (arena
//! alignment, activation [`Layout`]) and which memory passes its kernels allow, contributes its own named passes to
//! its schedule (`pipeline::backend_passes`), and adds what its runner needs beyond the portable kernel list (WGSL
//! payloads, packed weights…).
//!
//! A target that has no kernel for some node says why ([`NoKernel`]); the conversion then fails listing every such
//! node at once (`ConvertError::UnsupportedKernels`), or leaves that backend out of the bundle when asked to. It
//! never writes a descriptor with holes.

mod fallback;
pub mod wasm;
pub mod webgpu;

pub use fallback::Fallback;
pub use wasm::Wasm;
pub use webgpu::{WebGpu, WebGpuTuning};

use std::fmt;

use wdnn_descriptor_spec::Graph as Descriptor;

use crate::error::ConvertError;
use crate::ir::Graph;
use crate::passes::PassStats;

/// The activation layout a backend's kernels want.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// NCHW, the ONNX layout.
    #[default]
    ChannelsFirst,
    /// NHWC.
    ChannelsLast,
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "nchw" => Ok(Layout::ChannelsFirst),
            "nhwc" => Ok(Layout::ChannelsLast),
            other => Err(format!("unknown layout `{other}` (expected nchw or nhwc)")),
        }
    }
}

/// Why a target has no kernel for a node: what a code generator returns instead of a kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoKernel {
    /// What the generator cannot do, e.g. "f32 only (has i64 inputs)".
    pub reason: String,
}

impl NoKernel {
    /// A gap with its reason.
    pub fn new(reason: impl Into<String>) -> NoKernel {
        NoKernel { reason: reason.into() }
    }
}

impl fmt::Display for NoKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The rewrite of a [`BackendPass`], with the target's parameters (alignment, tuning) bound.
pub type PassFn<'t> = Box<dyn Fn(&mut Graph) -> Result<PassStats, ConvertError> + 't>;

/// A pass of one backend's schedule: one of the target's own (weight layouts, splits) or one the pipeline runs for
/// it (the activation layout, the memory passes). Timed, verified and reported like the graph passes.
pub struct BackendPass<'t> {
    /// Its name in the report and for `--skip-pass`.
    pub name: &'static str,
    /// Whether it may be skipped: an optimization. A required pass is what makes the descriptor valid (or loadable
    /// within the backend's limits).
    pub optional: bool,
    /// The rewrite.
    pub run: PassFn<'t>,
}

/// Per-target options; each target reads its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetOptions {
    /// The WebGPU code generator's tuning.
    pub webgpu: WebGpuTuning,
}

/// A backend the transpiler can generate a descriptor for.
pub trait Target {
    /// The backend name, as written in the manifest.
    fn name(&self) -> &'static str;

    /// Alignment of arena offsets, in bytes.
    fn alignment(&self) -> u64;

    /// Whether this backend's kernels may write their output over an input (see `passes::in_place`).
    fn in_place(&self) -> bool {
        true
    }

    /// Whether producers may write straight into slices of a concat output (see `passes::concat_views`).
    fn concat_views(&self) -> bool {
        true
    }

    /// The activation layout this backend's spatial kernels want (see `passes::layout`).
    fn activation_layout(&self) -> Layout {
        Layout::ChannelsFirst
    }

    /// This target's own passes, in order: rewrites of the optimized graph into what its kernels want (weight
    /// layouts, splits), run after the activation layout and before the memory passes. The default has none: the
    /// portable layout (NCHW activations, ONNX weight layouts).
    fn passes(&self) -> Vec<BackendPass<'_>> {
        vec![]
    }

    /// The tuning its passes and generators use, as `(name, value)` pairs for the report.
    fn settings(&self) -> Vec<(&'static str, String)> {
        vec![]
    }

    /// Adds the backend's payloads to `descriptor`, whose kernels are `graph`'s nodes in order, less the elided
    /// ones (`passes::is_elided`: views that need no kernel). Fails with `ConvertError::UnsupportedKernels`, listing
    /// every kernel it has no code for.
    fn finish(&self, _graph: &Graph, _descriptor: &mut Descriptor) -> Result<(), ConvertError> {
        Ok(())
    }
}

/// The names of every backend the transpiler targets by default (`cargo xtask convert` without `--backends`).
pub const BACKENDS: &[&str] = &["fallback", "webgpu", "wasm"];

/// Backends written only when asked for by name: `webgpu-f16` (SPEC §6.1.1), the WebGPU descriptor with binary16
/// storage, which trades accuracy (rel. L2 about 1e-3) for memory traffic and is therefore never a default.
pub const OPT_IN_BACKENDS: &[&str] = &[webgpu::F16_BACKEND];

/// The target named `name`, with its options.
pub fn target(name: &str, options: &TargetOptions) -> Result<Box<dyn Target>, ConvertError> {
    match name {
        "fallback" => Ok(Box::new(Fallback)),
        "webgpu" => Ok(Box::new(WebGpu::new(options.webgpu))),
        webgpu::F16_BACKEND => Ok(Box::new(WebGpu::f16(options.webgpu))),
        "wasm" => Ok(Box::new(Wasm)),
        _ => Err(ConvertError::UnknownBackend {
            name: name.to_string(),
            known: BACKENDS.iter().chain(OPT_IN_BACKENDS).copied().collect::<Vec<_>>().join(", "),
        }),
    }
}
