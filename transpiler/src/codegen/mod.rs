//! Per-backend code generation behind one interface: a [`Target`] says how its descriptor is laid out (arena
//! alignment) and adds what its runner needs beyond the portable kernel list (WGSL payloads, packed weights…).

mod fallback;
pub mod webgpu;

pub use fallback::Fallback;
pub use webgpu::WebGpu;

use wdnn_descriptor_spec::Graph as Descriptor;

use crate::error::ConvertError;
use crate::ir::Graph;
use crate::passes::layout::Layout;

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

    /// The layout hook: rewrites the (already optimized) graph into what this backend's kernels want, e.g.
    /// pre-transposed or packed weights, before memory planning and emission. The default keeps the portable
    /// layout (NCHW activations, ONNX weight layouts).
    fn prepare(&self, _graph: &mut Graph) -> Result<(), ConvertError> {
        Ok(())
    }

    /// Adds backend-specific payloads to a descriptor whose kernels mirror `graph`'s nodes one to one.
    fn finish(&self, _graph: &Graph, _descriptor: &mut Descriptor) -> Result<(), ConvertError> {
        Ok(())
    }
}

/// The names of every backend the transpiler can target.
pub const BACKENDS: &[&str] = &["fallback", "webgpu"];

/// The target named `name`.
pub fn target(name: &str) -> Option<Box<dyn Target>> {
    match name {
        "fallback" => Some(Box::new(Fallback)),
        "webgpu" => Some(Box::new(WebGpu::default())),
        _ => None,
    }
}
