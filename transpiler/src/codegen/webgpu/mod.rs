//! The WebGPU target: one WGSL compute shader per kernel, specialized to the kernel's shapes (sizes, strides and
//! attributes are constants in the source), with the optimizer's fused epilogues inlined.
//!
//! Binding model (SPEC §6): every bound tensor is its own binding of bind group 0 — arena tensors as
//! `var<storage, read_write>` ranges of the one arena buffer (WebGPU forbids using one buffer as read-only and
//! read-write storage in the same dispatch, so arena inputs are declared read-write too), weights as
//! `var<storage, read>`. Arena offsets are aligned to 256 bytes, the largest `minStorageBufferOffsetAlignment`
//! WebGPU allows, so every binding is legal on every adapter. A tensor bound twice by one kernel is bound once.
//!
//! Weight layout (see [`prepare`]): MatMul weights are stored `[N, K]` (`transpose_b`) where the kernel is a
//! matrix–vector product (few rows) and `[K, N]` otherwise, and a weight larger than WebGPU's default binding limit
//! (128 MiB) is split along its output axis into several MatMuls whose results a Concat joins. These are IR rewrites
//! that keep the graph's meaning, so the descriptor still runs on a reference runner. Conv weights keep the ONNX
//! layout `[O, I/group, k…]`, which is already the `[M, K]` operand of the implicit GEMM.
//!
//! Every generated shader is parsed and validated by naga before it is written: a shader that fails is a converter
//! bug, reported with the kernel's name, never something a browser finds.

mod conv;
mod elementwise;
mod gemm;
mod movement;
mod pool;
mod prepare;
mod reduce;
mod wgsl;

use std::collections::HashMap;

use wdnn_descriptor_spec::{Binding, Graph as Descriptor, KernelPayload};

use super::Target;
use crate::error::ConvertError;
use crate::ir::Graph;
use crate::passes;

pub use prepare::MAX_BINDING_BYTES;
use wgsl::{Ctx, Generated};

/// Entry point of every generated shader.
pub const ENTRY_POINT: &str = "main";

/// The WebGPU (WGSL) target.
#[derive(Default)]
pub struct WebGpu {
    /// Applied to every generated shader before validation: a test seam to prove that an invalid shader is caught.
    shader_hook: Option<fn(&mut String)>,
}

impl WebGpu {
    /// A target that passes every generated shader through `hook` before validating it (for tests).
    pub fn with_shader_hook(hook: fn(&mut String)) -> WebGpu {
        WebGpu { shader_hook: Some(hook) }
    }
}

impl Target for WebGpu {
    fn name(&self) -> &'static str {
        "webgpu"
    }

    fn alignment(&self) -> u64 {
        256
    }

    /// Kernels bind each tensor as its own range; an output over an input would alias a read-write binding.
    fn in_place(&self) -> bool {
        false
    }

    fn concat_views(&self) -> bool {
        true
    }

    fn prepare(&self, graph: &mut Graph) -> Result<(), ConvertError> {
        prepare::run(graph)
    }

    fn finish(&self, graph: &Graph, descriptor: &mut Descriptor) -> Result<(), ConvertError> {
        let nodes: Vec<usize> = (0..graph.nodes.len()).filter(|&i| !passes::is_elided(graph, i)).collect();
        if nodes.len() != descriptor.kernels.len() {
            return Err(ConvertError::Internal {
                stage: "webgpu code generation".into(),
                detail: format!("{} kernels for {} executed nodes", descriptor.kernels.len(), nodes.len()),
            });
        }
        let mut shaders: Vec<String> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let tensors = &descriptor.tensors;
        for (kernel, &node) in descriptor.kernels.iter_mut().zip(&nodes) {
            let ctx = Ctx { tensors, kernel, node: &graph.nodes[node], graph };
            let Some(Generated { mut source, workgroup_size, dispatch, bindings }) = generate(&ctx) else {
                kernel.payload = None;
                continue;
            };
            if let Some(hook) = self.shader_hook {
                hook(&mut source);
            }
            let shader = match index.get(&source) {
                Some(&i) => i,
                None => {
                    validate(&source).map_err(|detail| ConvertError::Internal {
                        stage: "webgpu code generation".into(),
                        detail: format!(
                            "the WGSL generated for kernel `{}` ({}) fails naga validation: {detail}\n{source}",
                            kernel.name,
                            kernel.op.name()
                        ),
                    })?;
                    shaders.push(source.clone());
                    index.insert(source, shaders.len() as u32 - 1);
                    shaders.len() as u32 - 1
                }
            };
            kernel.payload = Some(KernelPayload::Wgsl {
                shader,
                entry_point: ENTRY_POINT.to_string(),
                workgroup_size,
                dispatch,
                bindings: bindings
                    .into_iter()
                    .enumerate()
                    .map(|(i, (tensor, writable))| Binding { binding: i as u32, tensor, writable })
                    .collect(),
            });
        }
        descriptor.shaders = shaders;
        Ok(())
    }
}

/// The kernel for one descriptor kernel, or None where this target has none (the runner then refuses the model,
/// naming the kernel, and `auto` falls through to another backend).
fn generate(ctx: &Ctx) -> Option<Generated> {
    use wdnn_descriptor_spec::Op;
    if ctx.kernel.outputs.iter().any(|&o| ctx.tensors.get(o as usize).is_none_or(|t| t.numel() == 0)) {
        return None;
    }
    if ctx.kernel.op.channels_last() {
        return None; // this target asks for NCHW activations
    }
    match &ctx.kernel.op {
        Op::Unary { .. } | Op::Binary { .. } | Op::Elementwise { .. } => elementwise::elementwise(ctx),
        Op::Cast => elementwise::cast(ctx),
        Op::Conv { .. } => conv::conv(ctx),
        Op::ConvTranspose { .. } => conv::conv_transpose(ctx),
        Op::MatMul { .. } => gemm::matmul(ctx),
        Op::MaxPool { .. } | Op::AveragePool { .. } => pool::pool(ctx),
        Op::Lrn { .. } => pool::lrn(ctx),
        Op::Softmax { axis } => reduce::softmax(ctx, *axis, false),
        Op::LogSoftmax { axis } => reduce::softmax(ctx, *axis, true),
        Op::Reduce { fun, axes } => reduce::reduce(ctx, *fun, axes),
        Op::Reshape
        | Op::Transpose { .. }
        | Op::Slice { .. }
        | Op::Expand
        | Op::Tile
        | Op::Pad { .. }
        | Op::Gather { .. }
        | Op::GatherElements { .. } => movement::index_map(ctx),
        Op::Concat { axis } => movement::concat(ctx, *axis),
        Op::Resize { .. } => movement::resize(ctx),
        _ => None,
    }
}

/// Parses and validates WGSL with naga, with every validation flag and capability: the message names the problem.
pub fn validate(source: &str) -> Result<(), String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
        .validate(&module)
        .map_err(|e| e.emit_to_string(source))?;
    Ok(())
}
