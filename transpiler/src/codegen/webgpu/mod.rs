//! The WebGPU target: one WGSL compute shader per kernel, specialized to the kernel's shapes (sizes, strides and
//! attributes are constants in the source), with the optimizer's fused epilogues inlined.
//!
//! Binding model (SPEC §6): every bound tensor is its own binding of bind group 0 — arena tensors as
//! `var<storage, read_write>` ranges of the one arena buffer (WebGPU forbids using one buffer as read-only and
//! read-write storage in the same dispatch, so arena inputs are declared read-write too), weights as
//! `var<storage, read>`. Arena offsets are aligned to 256 bytes, the largest `minStorageBufferOffsetAlignment`
//! WebGPU allows, so every binding is legal on every adapter. A tensor bound twice by one kernel is bound once.
//!
//! Weight layout: the target's own [`passes`] store MatMul weights `[N, K]` where the kernel is a matrix–vector
//! product and `[K, N]` otherwise (`matmul-layout`), split weights larger than WebGPU's default binding limit
//! (`split-large-weights`), rewrite 3×3 stride-1 convolutions into Winograd F(2×2, 3×3) (`winograd`: input
//! transform, one batched MatMul, output transform) and split convolutions with too few invocations along K
//! (`split-k`). They are IR rewrites that
//! keep the graph's meaning, so the descriptor still runs on a reference runner. The sizes they and the generators
//! choose follow [`WebGpuTuning`].
//!
//! Every generated shader is parsed and validated by naga before it is written: a shader that fails is a converter
//! bug, reported with the kernel's name, never something a browser finds. A kernel this target has no shader for is
//! reported with its reason ([`NoKernel`]); the conversion lists them all and writes no descriptor with holes.

mod conv;
mod elementwise;
pub mod f16;
mod gemm;
mod integer;
mod movement;
mod packed;
pub mod passes;
mod pool;
mod reduce;
mod tuning;
mod wgsl;

use std::collections::HashMap;

use wdnn_descriptor_spec::{Binding, DType, Graph as Descriptor, KernelPayload};

use super::{BackendPass, NoKernel, Target};
use crate::error::{ConvertError, Unsupported};
use crate::ir::Graph;

pub use passes::MAX_BINDING_BYTES;
pub use tuning::WebGpuTuning;
use wgsl::{Ctx, Generated, no_kernel};

/// The backend name of the descriptor with binary16 storage ([`f16`], SPEC §6.1.1).
pub const F16_BACKEND: &str = "webgpu-f16";

/// Entry point of every generated shader.
pub const ENTRY_POINT: &str = "main";

/// The WebGPU (WGSL) target: `webgpu` (f32), or `webgpu-f16` (binary16 storage, f32 arithmetic: [`f16`]).
#[derive(Default)]
pub struct WebGpu {
    /// How its passes and generators size the work.
    tuning: WebGpuTuning,
    /// Store activations and large weights as binary16 (the `webgpu-f16` descriptor).
    f16: bool,
    /// Applied to every generated shader before validation: a test seam to prove that an invalid shader is caught.
    shader_hook: Option<fn(&mut String)>,
}

impl WebGpu {
    /// The target with this tuning.
    pub fn new(tuning: WebGpuTuning) -> WebGpu {
        WebGpu { tuning: WebGpuTuning { f16_tiles: false, ..tuning }, f16: false, shader_hook: None }
    }

    /// The `webgpu-f16` target with this tuning.
    pub fn f16(tuning: WebGpuTuning) -> WebGpu {
        WebGpu { tuning, f16: true, shader_hook: None }
    }

    /// A target that passes every generated shader through `hook` before validating it (for tests).
    pub fn with_shader_hook(hook: fn(&mut String)) -> WebGpu {
        WebGpu { shader_hook: Some(hook), ..WebGpu::default() }
    }
}

impl Target for WebGpu {
    fn name(&self) -> &'static str {
        if self.f16 { F16_BACKEND } else { "webgpu" }
    }

    fn alignment(&self) -> u64 {
        256
    }

    /// Kernels bind each tensor as its own range; an output over an input would alias a read-write binding.
    fn in_place(&self) -> bool {
        false
    }

    fn passes(&self) -> Vec<BackendPass<'_>> {
        let mut passes = passes::passes(&self.tuning);
        if self.f16 {
            // Last, so that the weights the other passes rewrite (transposed, split) are the ones narrowed; before
            // the memory passes, so that the plan sizes f16 values as f16.
            passes.push(BackendPass { name: "f16-storage", optional: false, run: Box::new(f16::run) });
        }
        passes
    }

    fn settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = self.tuning.settings();
        if self.f16 {
            settings.push(("storage", "f16".to_string()));
        }
        settings
    }

    fn finish(&self, graph: &Graph, descriptor: &mut Descriptor) -> Result<(), ConvertError> {
        let nodes: Vec<usize> = (0..graph.nodes.len()).filter(|&i| !crate::passes::is_elided(graph, i)).collect();
        if nodes.len() != descriptor.kernels.len() {
            return Err(ConvertError::Internal {
                stage: "webgpu code generation".into(),
                detail: format!("{} kernels for {} executed nodes", descriptor.kernels.len(), nodes.len()),
            });
        }
        let mut shaders: Vec<String> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut gaps: Vec<Unsupported> = Vec::new();
        // The generators see f16 storage as f32 (they compute in f32); `f16::narrow_bindings` then narrows the
        // bindings of the tensors stored as f16.
        let stored = &descriptor.tensors;
        let logical: Vec<_> = stored
            .iter()
            .map(|t| {
                let mut t = t.clone();
                if t.dtype == DType::F16 && self.f16 {
                    t.dtype = DType::F32;
                }
                t
            })
            .collect();
        let tensors = &logical;
        for (kernel, &node) in descriptor.kernels.iter_mut().zip(&nodes) {
            let ctx = Ctx { tensors, kernel, node: &graph.nodes[node], graph, tuning: &self.tuning };
            let generated = generate(&ctx).and_then(|g| {
                let narrow: Vec<usize> = match self.f16 {
                    true => (g.bindings.iter().enumerate())
                        .filter(|(_, (t, _))| stored.get(*t as usize).is_some_and(|t| t.dtype == DType::F16))
                        .map(|(i, _)| i)
                        .collect(),
                    false => vec![],
                };
                let mut source = f16::narrow_bindings(&wgsl::runtime_non_finite(&g.source), &narrow)
                    .map_err(|e| NoKernel::new(format!("converter bug: its shader cannot store f16 ({e})")))?;
                // f16 workgroup tiles (`f16_tiles`) in a kernel that binds no f16 tensor.
                if self.f16 && source.contains("f16") && !source.starts_with("enable f16;") {
                    source.insert_str(0, "enable f16;\n");
                }
                Ok(Generated { source, ..g })
            });
            let Generated { mut source, workgroup_size, dispatch, bindings } = match generated {
                Ok(generated) => generated,
                Err(gap) => {
                    let op = format!("{}: {gap}", kernel.op.name());
                    match gaps.iter_mut().find(|u| u.op == op) {
                        Some(u) => u.nodes.push(kernel.name.clone()),
                        None => gaps.push(Unsupported { op, nodes: vec![kernel.name.clone()] }),
                    }
                    continue;
                }
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
        if !gaps.is_empty() {
            return Err(ConvertError::UnsupportedKernels { backend: self.name().to_string(), ops: gaps });
        }
        descriptor.shaders = shaders;
        Ok(())
    }
}

/// The shader for one descriptor kernel, or why this target has none.
fn generate(ctx: &Ctx) -> Result<Generated, NoKernel> {
    use wdnn_descriptor_spec::Op;
    let empty = |o: &u32| ctx.tensors.get(*o as usize).map(|t| t.numel() == 0);
    if !ctx.kernel.outputs.is_empty() && ctx.kernel.outputs.iter().all(|o| empty(o) == Some(true)) {
        // Nothing to write: a shader that binds nothing, never dispatched (the runner skips a zero dispatch).
        let source = format!("{}}}\n", wgsl::entry([1, 1, 1]));
        return Ok(Generated { source, workgroup_size: [1, 1, 1], dispatch: [0, 0, 0], bindings: vec![] });
    }
    if ctx.kernel.outputs.iter().any(|o| empty(o) != Some(false)) {
        no_kernel!("an output with no elements beside outputs with some");
    }
    if ctx.kernel.op.channels_last() {
        no_kernel!("NHWC activations (this target's kernels are NCHW)");
    }
    match &ctx.kernel.op {
        Op::Unary { .. } | Op::Binary { .. } | Op::Elementwise { .. } => elementwise::elementwise(ctx),
        Op::Cast => elementwise::cast(ctx),
        Op::Where => packed::where_(ctx),
        Op::BitCast => packed::bitcast(ctx),
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
        | Op::GatherElements { .. }
        | Op::GatherNd { .. } => movement::index_map(ctx),
        Op::Concat { axis } => movement::concat(ctx, *axis),
        Op::Resize { .. } => movement::resize(ctx),
        _ => no_kernel!("no WGSL generator for this op"),
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
